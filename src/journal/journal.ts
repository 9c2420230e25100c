import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";

// The journal is the run's single record: append-only JSON lines, one event each, written
// synchronously so that a crash loses nothing already done. A fault's intent is written
// before it is applied, its revert after it is undone. Verdicts and reports are computed
// from the journal alone.

export const phases = ["warmup", "baseline", "inject", "recover", "verify"] as const;
export type Phase = (typeof phases)[number];

const bucketStatsSchema = z.object({
  count: z.number(),
  errors: z.number(),
  statuses: z.record(z.string(), z.number()),
  histogram: z.string(),
});

const checkResultSchema = z.object({
  check: z.string(),
  metric: z.string(),
  comparator: z.string(),
  threshold: z.number(),
  value: z.number().optional(),
  ok: z.boolean().optional(),
  applies: z.boolean().optional(),
  tolerated: z.boolean().optional(),
  detail: z.string().optional(),
});

/** One CI gate's result, as the reports render it. */
export const gateResultSchema = z.object({ name: z.string(), ok: z.boolean(), message: z.string() });

const base = { at: z.string() };

export const journalEventSchema = z.discriminatedUnion("type", [
  z.object({
    ...base,
    type: z.literal("run-started"),
    runId: z.string(),
    experiment: z.object({
      name: z.string(),
      file: z.string(),
      source: z.string().optional(),
      /** Values given for the source's ${name} placeholders (a suite's params, --param). */
      params: z.record(z.string(), z.string()).optional(),
    }),
    replica: z.string(),
    /** The replica's edges (the load balancer's servers), for timings. */
    edges: z.array(z.string()).optional(),
    /** Multi-PoP replicas: each PoP's load balancer, edges and links, for cross-PoP timings. */
    pops: z
      .record(
        z.string(),
        z.object({ lb: z.string(), edges: z.array(z.string()), uplink: z.string(), ingress: z.string() }),
      )
      .optional(),
    load: z.object({ driver: z.string(), version: z.string(), url: z.string(), ratePerSecond: z.number() }),
    plan: z.object({
      windowSeconds: z.number(),
      warmupSeconds: z.number(),
      baselineSeconds: z.number(),
      injectSeconds: z.number(),
      recoverSeconds: z.number(),
      verifySeconds: z.number(),
      recoveryTargetMs: z.number(),
    }),
    seed: z.number(),
  }),
  z.object({
    ...base,
    type: z.literal("inject-started"),
    runId: z.string(),
    replica: z.string(),
    seed: z.number(),
    forMs: z.number(),
  }),
  z.object({ ...base, type: z.literal("phase"), phase: z.enum(phases), second: z.number() }),
  /** Where the run's series (fault windows, phase, checks) are served for Prometheus, or why not. */
  z.object({
    ...base,
    type: z.literal("series"),
    where: z.string().optional(),
    problem: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal("fault-intent"),
    id: z.string(),
    fault: z.string(),
    target: z.string(),
    description: z.string(),
    params: z.record(z.string(), z.unknown()),
    /** Whether the kind takes its target out of service with these parameters (absent in older journals). */
    disruptive: z.boolean().optional(),
  }),
  z.object({
    ...base,
    type: z.literal("fault-applied"),
    id: z.string(),
    second: z.number(),
    details: z.record(z.string(), z.string()).optional(),
  }),
  z.object({ ...base, type: z.literal("fault-apply-failed"), id: z.string(), error: z.string() }),
  z.object({ ...base, type: z.literal("fault-reverted"), id: z.string(), second: z.number() }),
  z.object({ ...base, type: z.literal("fault-revert-failed"), id: z.string(), error: z.string() }),
  z.object({
    ...base,
    type: z.literal("metrics"),
    second: z.number(),
    all: bucketStatsSchema,
    byEdge: z.record(z.string(), bucketStatsSchema),
    byRequest: z.record(z.string(), bucketStatsSchema).optional(),
  }),
  z.object({
    ...base,
    type: z.literal("window"),
    phase: z.enum(phases),
    start: z.number(),
    end: z.number(),
    results: z.array(checkResultSchema),
  }),
  z.object({
    ...base,
    type: z.literal("probe"),
    key: z.string(),
    second: z.number(),
    value: z.number().optional(),
    ok: z.boolean().optional(),
    latencyMs: z.number().optional(),
    note: z.string().optional(),
    error: z.string().optional(),
  }),
  z.object({ ...base, type: z.literal("watchdog"), pid: z.number(), log: z.string() }),
  z.object({ ...base, type: z.literal("lb-state"), edge: z.string(), state: z.string() }),
  /** The global traffic layer marked a PoP up or down (multi-PoP replicas). */
  z.object({ ...base, type: z.literal("pop-state"), pop: z.string(), state: z.string() }),
  z.object({ ...base, type: z.literal("interrupted"), signal: z.string() }),
  z.object({
    ...base,
    type: z.literal("aborted"),
    condition: z.string(),
    metric: z.string().optional(),
    value: z.number(),
    threshold: z.number(),
    second: z.number(),
  }),
  z.object({ ...base, type: z.literal("error"), message: z.string() }),
  z.object({
    ...base,
    type: z.literal("verdict"),
    verdict: z.string(),
    reason: z.string(),
    exitCode: z.number(),
    score: z.number().optional(),
  }),
  z.object({ ...base, type: z.literal("run-finished"), durationMs: z.number() }),
  /**
   * The CI gates evaluated on the run's report (`--fail-under`, `--baseline`, a suite's go
   * criteria) and the exit code the run was given; after run-finished, only when the gates ran
   * or the exit code is not the verdict's. `faultline report` renders the run with them.
   */
  z.object({
    ...base,
    type: z.literal("gates"),
    gates: z.array(gateResultSchema),
    exitCode: z.number(),
  }),
]);
export type JournalEvent = z.infer<typeof journalEventSchema>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type NewJournalEvent = DistributiveOmit<JournalEvent, "at">;

export type JournalListener = (event: JournalEvent) => void;

export class Journal {
  private readonly listeners: JournalListener[] = [];
  private readonly failedListeners = new Set<JournalListener>();

  /**
   * `onListenerError` hears of a listener that threw (once per listener); by default it is
   * ignored. A listener (a progress view, a test hook) never breaks the run that writes.
   */
  constructor(
    readonly path: string,
    private readonly now: () => Date = () => new Date(),
    private readonly onListenerError: (error: unknown, event: JournalEvent) => void = () => {},
  ) {
    mkdirSync(dirname(path), { recursive: true });
  }

  onEvent(listener: JournalListener): void {
    this.listeners.push(listener);
  }

  write(event: NewJournalEvent): JournalEvent {
    const full = { at: this.now().toISOString(), ...event } as JournalEvent;
    appendFileSync(this.path, `${JSON.stringify(full)}\n`);
    for (const listener of this.listeners) this.notify(listener, full);
    return full;
  }

  /** The event is on disk already: whatever a listener does, the journal and the run go on. */
  private notify(listener: JournalListener, event: JournalEvent): void {
    try {
      listener(event);
    } catch (error) {
      if (this.failedListeners.has(listener)) return;
      this.failedListeners.add(listener);
      try {
        this.onListenerError(error, event);
      } catch {
        // Reporting the failure failed too: nothing more to do without breaking the run.
      }
    }
  }
}

export function readJournal(path: string): JournalEvent[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, index) => {
      const parsed = journalEventSchema.safeParse(JSON.parse(line));
      if (!parsed.success)
        throw new Error(`${path}:${index + 1}: not a journal event (${parsed.error.message})`);
      return parsed.data;
    });
}
