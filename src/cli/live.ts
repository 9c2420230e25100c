import { createLogUpdate } from "log-update";
import type { JournalEvent, Phase } from "../journal/journal.js";
import { formatValue } from "../steady-state/checks.js";
import { progressLine } from "./render.js";

// Progress while a run goes on. In a terminal: one block redrawn in place (log-update) with
// the phase, elapsed and remaining time, the active faults, each check's latest value and
// the load balancer's view. Elsewhere (CI logs, pipes): one plain line per event.

interface ActiveFault {
  id: string;
  description: string;
  appliedAt: number;
  /** Planned end, epoch ms, when known from the run's plan. */
  endsAt: number | undefined;
}

export interface LiveState {
  experiment: string;
  runId: string;
  startedAt: number;
  /** Planned length of the whole run, seconds (warmup to the end of verify). */
  plannedSeconds: number;
  phase: Phase | undefined;
  faults: Map<string, ActiveFault>;
  intents: Map<string, { description: string; forMs: number | undefined }>;
  checks: Map<
    string,
    { metric: string; value: number | undefined; ok: boolean | undefined; tolerated: boolean; window: string }
  >;
  edges: Map<string, string>;
  recent: string[];
}

export function newLiveState(experiment: string, plannedSeconds: number): LiveState {
  return {
    experiment,
    runId: "",
    startedAt: Date.now(),
    plannedSeconds,
    phase: undefined,
    faults: new Map(),
    intents: new Map(),
    checks: new Map(),
    edges: new Map(),
    recent: [],
  };
}

/** Folds one journal event into the view's state. */
export function applyEvent(state: LiveState, event: JournalEvent): void {
  const at = Date.parse(event.at);
  switch (event.type) {
    case "run-started":
      state.runId = event.runId;
      state.startedAt = at;
      break;
    case "phase":
      state.phase = event.phase;
      break;
    case "fault-intent": {
      const forMs = typeof event.params.for === "number" ? event.params.for : undefined;
      state.intents.set(event.id, { description: event.description, forMs });
      break;
    }
    case "fault-applied": {
      const intent = state.intents.get(event.id);
      state.faults.set(event.id, {
        id: event.id,
        description: intent?.description ?? event.id,
        appliedAt: at,
        endsAt: intent?.forMs === undefined ? undefined : at + intent.forMs,
      });
      break;
    }
    case "fault-reverted":
      state.faults.delete(event.id);
      break;
    case "window":
      for (const r of event.results) {
        if (r.applies === false) continue;
        state.checks.set(r.check, {
          metric: r.metric,
          value: r.value,
          ok: r.ok,
          tolerated: r.tolerated === true,
          window: `${event.phase} ${event.start}-${event.end}s`,
        });
      }
      break;
    case "lb-state":
      state.edges.set(event.edge, event.state);
      break;
    default:
      break;
  }
  const line = progressLine(event, state.startedAt);
  if (line && event.type !== "window") {
    state.recent.push(line.trim());
    if (state.recent.length > 4) state.recent.shift();
  }
}

const clock = (seconds: number) => {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

/** The block shown in a terminal at time `now`. Pure: tests render it from recorded events. */
export function renderLive(state: LiveState, now: number, width = 100): string {
  const elapsed = (now - state.startedAt) / 1000;
  const share = state.plannedSeconds > 0 ? Math.min(1, elapsed / state.plannedSeconds) : 0;
  const barWidth = 24;
  const filled = Math.round(share * barWidth);
  const cut = (text: string) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);
  const lines = [
    cut(`faultline ▸ ${state.experiment}${state.runId ? ` · run ${state.runId}` : ""}`),
    `phase ${(state.phase ?? "starting").padEnd(9)} ${"█".repeat(filled)}${"░".repeat(barWidth - filled)}  ${clock(elapsed)} elapsed · about ${clock(state.plannedSeconds - elapsed)} left`,
  ];
  lines.push(state.faults.size ? "active faults:" : "active faults: none");
  for (const f of state.faults.values()) {
    const left = f.endsAt === undefined ? "" : `  (${clock((f.endsAt - now) / 1000)} left)`;
    lines.push(cut(`  ${f.id} ${f.description}${left}`));
  }
  if (state.checks.size) {
    lines.push("checks (latest window):");
    const nameWidth = Math.min(36, Math.max(...[...state.checks.keys()].map((k) => k.length)) + 2);
    for (const [name, c] of state.checks) {
      const mark = c.ok === false ? (c.tolerated ? "~" : "✗") : c.ok === undefined ? "?" : "✓";
      lines.push(
        cut(
          `  ${mark} ${name.slice(0, nameWidth - 2).padEnd(nameWidth)}${formatValue(c.metric, c.value).padEnd(10)} ${c.window}`,
        ),
      );
    }
  } else {
    lines.push("checks: waiting for the first window");
  }
  if (state.edges.size) {
    lines.push(cut(`load balancer: ${[...state.edges].map(([edge, s]) => `${edge} ${s}`).join(", ")}`));
  }
  if (state.recent.length) {
    lines.push("recent:");
    for (const r of state.recent) lines.push(cut(`  ${r}`));
  }
  return lines.join("\n");
}

export interface Progress {
  /** Feeds a journal event of the current run. */
  event(event: JournalEvent): void;
  /** A message outside any run (replica coming up, the next experiment of a suite). */
  message(text: string): void;
  /** Starts a new run's view. */
  startRun(experiment: string, plannedSeconds: number): void;
  /** Leaves the last frame on screen and stops redrawing. */
  stop(): void;
}

/** Plain lines: for pipes and CI logs. */
export function plainProgress(write: (line: string) => void): Progress {
  let startedAt = Date.now();
  return {
    event(event) {
      if (event.type === "run-started") {
        startedAt = Date.parse(event.at);
        write(
          `  run ${event.runId}: ${event.load.driver} ${event.load.version} at ${event.load.ratePerSecond}/s → ${event.load.url}`,
        );
      }
      const line = progressLine(event, startedAt);
      if (line) write(line);
    },
    message: write,
    startRun() {},
    stop() {},
  };
}

/** The live view, redrawn on every event and every 500 ms. */
export function liveProgress(stream: NodeJS.WriteStream): Progress {
  const update = createLogUpdate(stream);
  let state: LiveState | undefined;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    if (state) update(renderLive(state, Date.now(), stream.columns ?? 100));
  };
  const halt = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    if (state) {
      draw();
      update.done();
    }
    state = undefined;
  };
  return {
    event(event) {
      if (!state) return;
      applyEvent(state, event);
      if (event.type === "run-finished") halt();
      else draw();
    },
    message(text) {
      if (state) {
        update.clear();
        stream.write(`${text}\n`);
        draw();
      } else {
        stream.write(`${text}\n`);
      }
    },
    startRun(experiment, plannedSeconds) {
      halt();
      state = newLiveState(experiment, plannedSeconds);
      timer = setInterval(draw, 500);
      timer.unref();
      draw();
    },
    stop: halt,
  };
}
