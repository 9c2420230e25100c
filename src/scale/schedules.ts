import {
  type Client,
  isGrpcServiceError,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
} from "@temporalio/client";
import { errorMessage, InvalidInputError } from "../errors.js";
import { formatDuration } from "../units.js";
import type { GameDayInput } from "./game-day.js";

// Scheduled game days on Temporal Schedules: every firing starts a gameDay workflow (id
// gd-<schedule>-<time>) on the engine's task queue, with the same input; its runs land in the
// history the schedule names, like any run's. A firing while the last game day still runs is
// skipped (two game days never share a replica). Cron expressions are parsed by the server.

/** gRPC's status code for a request the server refused as malformed. */
const GRPC_INVALID_ARGUMENT = 3;
const SCHEDULE_ID = /^[a-z0-9][a-z0-9-]{0,60}$/;
/** Below this, game days would pile up on one replica: each takes tens of seconds at least. */
const MIN_EVERY_MS = 5000;

export interface ScheduleRequest {
  scheduleId: string;
  /** Exactly one of the two. */
  cron?: string | undefined;
  everyMs?: number | undefined;
  input: GameDayInput;
}

export interface ScheduleRow {
  id: string;
  spec: string;
  paused: boolean;
  next: string[];
  recent: string[];
}

export function checkScheduleId(id: string): string {
  if (SCHEDULE_ID.test(id)) return id;
  throw new InvalidInputError(`the schedule id "${id}" is not a lowercase name`, {
    suggestion: "letters, digits and dashes, at most 61: e.g. --id weekly-edge-latency",
  });
}

/** The schedule's spec from --cron or --every: checked before anything else is (exit 2). */
export function scheduleSpec(request: Pick<ScheduleRequest, "cron" | "everyMs">) {
  if ((request.cron === undefined) === (request.everyMs === undefined))
    throw new InvalidInputError("a schedule needs exactly one of --cron and --every", {
      suggestion: 'e.g. --cron "0 3 * * 1" (Mondays at 03:00 UTC) or --every 6h',
    });
  if (request.everyMs !== undefined && request.everyMs < MIN_EVERY_MS)
    throw new InvalidInputError(
      `--every: at least ${formatDuration(MIN_EVERY_MS)}, got ${formatDuration(request.everyMs)}`,
      { suggestion: `e.g. --every ${formatDuration(MIN_EVERY_MS)}, or a cron expression for fixed times` },
    );
  return request.cron !== undefined
    ? { cronExpressions: [request.cron] }
    : { intervals: [{ every: request.everyMs ?? 0 }] };
}

/** Creates the schedule; an expression the server's cron parser refuses is invalid input. */
export async function createSchedule(client: Client, request: ScheduleRequest): Promise<ScheduleRow> {
  const scheduleId = checkScheduleId(request.scheduleId);
  const spec = scheduleSpec(request);
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action: {
        type: "startWorkflow",
        workflowType: "gameDay",
        workflowId: `gd-${scheduleId}`,
        taskQueue: request.input.taskQueue,
        args: [request.input],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      memo: {
        spec: describeSpec(request),
        engine: request.input.engine,
        paths: request.input.paths.join(" "),
      },
    });
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning)
      throw new InvalidInputError(`a schedule "${scheduleId}" exists already`, {
        suggestion: `pick another --id, or \`faultline schedule delete ${scheduleId}\` first`,
      });
    // The SDK parses the expression (a TypeError names the field); the server checks it again.
    const refused =
      error instanceof TypeError || (isGrpcServiceError(error) && error.code === GRPC_INVALID_ARGUMENT);
    if (request.cron !== undefined && refused)
      throw new InvalidInputError(`--cron "${request.cron}": ${errorMessage(error)}`, {
        suggestion: 'five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * 1"',
      });
    throw error;
  }
  return describeSchedule(client, scheduleId);
}

export async function describeSchedule(client: Client, id: string): Promise<ScheduleRow> {
  try {
    const d = await client.schedule.getHandle(id).describe();
    return {
      id,
      spec: memoSpec(d.memo),
      paused: d.state.paused,
      next: d.info.nextActionTimes.map((t) => t.toISOString()),
      recent: d.info.recentActions.map((a) => a.action.workflow.workflowId),
    };
  } catch (error) {
    throw notFound(error, id);
  }
}

export async function listSchedules(client: Client): Promise<ScheduleRow[]> {
  const rows: ScheduleRow[] = [];
  for await (const s of client.schedule.list()) {
    if (s.action?.type !== "startWorkflow" || s.action.workflowType !== "gameDay") continue;
    rows.push({
      id: s.scheduleId,
      spec: memoSpec(s.memo),
      paused: s.state.paused,
      next: s.info.nextActionTimes.map((t) => t.toISOString()),
      recent: s.info.recentActions.map((a) => a.action.workflow.workflowId),
    });
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

export async function pauseSchedule(client: Client, id: string, paused: boolean): Promise<ScheduleRow> {
  try {
    const handle = client.schedule.getHandle(id);
    await (paused
      ? handle.pause("paused by faultline schedule pause")
      : handle.unpause("resumed by faultline"));
  } catch (error) {
    throw notFound(error, id);
  }
  return describeSchedule(client, id);
}

export async function deleteSchedule(client: Client, id: string): Promise<void> {
  try {
    await client.schedule.getHandle(id).delete();
  } catch (error) {
    throw notFound(error, id);
  }
}

/** The schedule as it was asked for (the server keeps a cron expression as calendars). */
const describeSpec = (request: ScheduleRequest) =>
  request.cron !== undefined ? `cron ${request.cron}` : `every ${formatDuration(request.everyMs ?? 0)}`;

const memoSpec = (memo: Record<string, unknown> | undefined) =>
  typeof memo?.spec === "string" ? memo.spec : "-";

function notFound(error: unknown, id: string): unknown {
  if (error instanceof ScheduleNotFoundError)
    return new InvalidInputError(`no schedule "${id}" on this Temporal server`, {
      suggestion: "`faultline schedule list` shows them",
    });
  return error;
}
