import { Gauge, Registry } from "prom-client";
import type { JournalEvent, Phase } from "../journal/journal.js";
import { seriesHost } from "../replica/configs.js";
import type { Replica } from "../replica/replica.js";
import { removeSeriesFiles, writeSeriesFile } from "../replica/series-files.js";
import { containerName, LB_STATS_PORT, SERIES_PATH } from "../replica/topology.js";

// Fault windows in Prometheus: while a run lasts, it keeps a file of series in the load
// balancer that serves them (src/replica/lb-lua.ts): which faults are active, the run's
// phase, each check's state in its latest window. The replica's Prometheus scrapes them (job
// `faultline`), so any Grafana on it can draw the fault windows. The run rewrites the file on
// every change and every HEARTBEAT_MS; each line expires TTL_SECONDS after it was written, so
// the series of a run that died stop being served by themselves. The run's end removes them.

const HEARTBEAT_MS = 5000;
export const SERIES_TTL_SECONDS = 30;

export interface SeriesState {
  runId: string;
  experiment: string;
  replica: string;
  phase?: Phase | undefined;
  faults: Map<string, { kind: string; target: string; active: boolean }>;
  checks: Map<string, { ok: boolean | undefined; value: number | undefined }>;
}

/** Folds one journal event into the state; true when the series changed. */
export function foldEvent(state: SeriesState, event: JournalEvent): boolean {
  switch (event.type) {
    case "phase":
      state.phase = event.phase;
      return true;
    case "fault-intent":
      state.faults.set(event.id, { kind: event.fault, target: event.target, active: false });
      return false;
    case "fault-applied": {
      const fault = state.faults.get(event.id);
      if (fault) fault.active = true;
      return fault !== undefined;
    }
    case "fault-reverted":
    case "fault-apply-failed":
      return state.faults.delete(event.id);
    case "window":
      for (const r of event.results)
        state.checks.set(r.check, { ok: r.applies === false ? undefined : r.ok, value: r.value });
      return true;
    default:
      return false;
  }
}

/** The state in Prometheus's text format (prom-client), each line prefixed with the second it expires at. */
export async function seriesText(state: SeriesState, expires: number): Promise<string> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[]) =>
    new Gauge({ name, help, labelNames: ["run", "experiment", ...labelNames], registers: [registry] });
  const run = { run: state.runId, experiment: state.experiment };
  gauge("faultline_run_info", "A Faultline run in progress on this replica.", ["replica"]).set(
    { ...run, replica: state.replica },
    1,
  );
  const phase = gauge("faultline_run_phase", "The run's current phase (1).", ["phase"]);
  if (state.phase) phase.set({ ...run, phase: state.phase }, 1);
  const active = gauge(
    "faultline_fault_active",
    "A fault applied now (1), by run, fault id, kind and target.",
    ["fault", "kind", "target"],
  );
  for (const [id, f] of state.faults)
    if (f.active) active.set({ ...run, fault: id, kind: f.kind, target: f.target }, 1);
  const ok = gauge("faultline_check_ok", "Whether the check held (1) or broke (0) in its latest window.", [
    "check",
  ]);
  const value = gauge(
    "faultline_check_value",
    "The check's measured value in its latest window (ms, a fraction, per second).",
    ["check"],
  );
  for (const [check, c] of state.checks) {
    if (c.ok !== undefined) ok.set({ ...run, check }, c.ok ? 1 : 0);
    if (c.value !== undefined && Number.isFinite(c.value)) value.set({ ...run, check }, c.value);
  }
  const text = await registry.metrics();
  return `${text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => `${expires} ${line}`)
    .join("\n")}\n`;
}

export interface SeriesExporter {
  /** Where the series are served, for the journal: "lb:8405/faultline/metrics". */
  readonly where: string;
  onEvent(event: JournalEvent): void;
  /** Stops the heartbeat and removes the run's series; never throws. */
  close(): Promise<void>;
}

/**
 * Starts exporting a run's series, or returns why it cannot (no load balancer with Faultline's
 * config). A failed write is reported once through `onError`; the run goes on.
 */
export function startSeries(options: {
  replica: Replica;
  runId: string;
  experiment: string;
  onError: (message: string) => void;
}): SeriesExporter | string {
  const { replica, runId } = options;
  const host = seriesHost(replica.topology);
  if (!host)
    return "no load balancer with Faultline's config serves them (an attached stack, or its own config)";
  if (!/^[A-Za-z0-9_.-]+$/.test(runId)) return `run id ${runId} is not a file name`;
  const container = containerName(replica.topology, host);
  const state: SeriesState = {
    runId,
    experiment: options.experiment,
    replica: replica.topology.replica,
    faults: new Map(),
    checks: new Map(),
  };
  return new Exporter(container, state, `${host}:${LB_STATS_PORT}${SERIES_PATH}`, options.onError);
}

class Exporter implements SeriesExporter {
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  private closed = false;
  private failed = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly container: string,
    private readonly state: SeriesState,
    readonly where: string,
    private readonly onError: (message: string) => void,
  ) {
    this.heartbeat = setInterval(() => this.schedule(), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.schedule();
  }

  onEvent(event: JournalEvent): void {
    if (foldEvent(this.state, event)) this.schedule();
  }

  /** Coalesces writes: at most one in flight, and one more with the latest state after it. */
  private schedule(): void {
    if (this.closed || this.dirty) return;
    this.dirty = true;
    this.writing = this.writing.then(async () => {
      this.dirty = false;
      if (this.closed) return;
      const expires = Math.floor(Date.now() / 1000) + SERIES_TTL_SECONDS;
      await this.exec(true, await seriesText(this.state, expires));
    });
  }

  private async exec(write: boolean, content = ""): Promise<void> {
    try {
      if (write) await writeSeriesFile(this.container, this.state.runId, content);
      else await removeSeriesFiles(this.container, this.state.runId);
    } catch (error) {
      if (this.failed) return;
      this.failed = true;
      this.onError(
        `the run's series could not be ${write ? "written" : "removed"} in ${this.container}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    await this.writing;
    await this.exec(false);
  }
}
