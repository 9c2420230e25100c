import { Gauge, Registry } from "prom-client";
import type { JournalEvent, Phase } from "../journal/journal.js";
import {
  attachSeriesName,
  ensureAttachSeries,
  removeAttachSeries,
  SERIES_ALIAS,
} from "../replica/attach-series.js";
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
// On an attached stack whose settings ask for them, a container of Faultline's on the stack's
// network serves them the same way (src/replica/attach-series.ts), for the stack's Prometheus.

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

/** The container whose files hold the series, and what comes before and after its use. */
interface SeriesSink {
  container: string;
  where: string;
  /** Readies the container (an attached stack's series container); the writes wait for it. */
  prepare?: () => Promise<void>;
  /** After the run's files are removed (that container removed). */
  dispose?: () => Promise<void>;
}

/** Where a replica serves a run's series, or why it does not. */
function sinkFor(replica: Replica, runId: string): SeriesSink | string {
  const { topology } = replica;
  const attach = topology.attach;
  if (attach) {
    if (!attach.series)
      return "an attached stack serves them only when its settings ask (replica.attach.series: true)";
    const port = attach.series.port;
    return {
      container: attachSeriesName(topology.replica),
      where: `${SERIES_ALIAS}:${LB_STATS_PORT}${SERIES_PATH} on network ${topology.network}${port ? `, 127.0.0.1:${port}` : ""}`,
      prepare: async () => void (await ensureAttachSeries(topology, runId, port)),
      dispose: async () => void (await removeAttachSeries(topology, runId)),
    };
  }
  const host = seriesHost(topology);
  if (!host) return "no load balancer with Faultline's config serves them (the topology gives each its own)";
  return { container: containerName(topology, host), where: `${host}:${LB_STATS_PORT}${SERIES_PATH}` };
}

/**
 * Starts exporting a run's series, or returns why it cannot. A failed write is reported once
 * through `onError`; the run goes on.
 */
export function startSeries(options: {
  replica: Replica;
  runId: string;
  experiment: string;
  onError: (message: string) => void;
}): SeriesExporter | string {
  const { replica, runId } = options;
  if (!/^[A-Za-z0-9_.-]+$/.test(runId)) return `run id ${runId} is not a file name`;
  const sink = sinkFor(replica, runId);
  if (typeof sink === "string") return sink;
  const state: SeriesState = {
    runId,
    experiment: options.experiment,
    replica: replica.topology.replica,
    faults: new Map(),
    checks: new Map(),
  };
  return new Exporter(sink, state, options.onError);
}

class Exporter implements SeriesExporter {
  private writing: Promise<void>;
  private dirty = false;
  private closed = false;
  private failed = false;
  private readonly heartbeat: NodeJS.Timeout;
  readonly where: string;

  constructor(
    private readonly sink: SeriesSink,
    private readonly state: SeriesState,
    private readonly onError: (message: string) => void,
  ) {
    this.where = sink.where;
    const prepare = sink.prepare;
    this.writing = prepare ? this.attempt("served", prepare) : Promise.resolve();
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
    const { container } = this.sink;
    const { runId } = this.state;
    if (write) await this.attempt("written", () => writeSeriesFile(container, runId, content));
    else await this.attempt("removed", async () => void (await removeSeriesFiles(container, runId)));
  }

  /**
   * Runs one step; its first failure is reported, later ones are not, except with `always`
   * (the container's removal: a container left on the user's network is always said).
   */
  private async attempt(what: string, step: () => Promise<void>, always = false): Promise<void> {
    try {
      await step();
    } catch (error) {
      if (this.failed && !always) return;
      this.failed = true;
      this.onError(
        `the run's series could not be ${what} in ${this.sink.container}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    await this.writing;
    await this.exec(false);
    const dispose = this.sink.dispose;
    if (dispose) await this.attempt("removed", dispose, true);
  }
}
