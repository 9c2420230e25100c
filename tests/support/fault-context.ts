import { type Fault, faultSchema } from "../../src/experiments/schema.js";
import type { AppliedFault, InjectorContext } from "../../src/faults/fault-kind.js";
import { kindOf } from "../../src/faults/registry.js";
import type { Replica } from "../../src/replica/replica.js";

let sequence = 0;

/** A fresh injector context on `service` (its own run id), due for revert in `revertInMs`. */
export function faultContext(replica: Replica, service: string, revertInMs = 60_000): InjectorContext {
  sequence += 1;
  return {
    replica,
    runId: `it-${replica.topology.replica}-${Date.now()}-${sequence}`,
    faultId: `f${sequence}`,
    service,
    revertBy: Date.now() + revertInMs,
  };
}

/** Parses `yaml` as a fault, checks it against the replica, applies it on `service`: timed. */
export async function applyFault(
  replica: Replica,
  service: string,
  yaml: Record<string, unknown>,
): Promise<{ fault: Fault; applied: AppliedFault; applyMs: number; context: InjectorContext }> {
  const fault = faultSchema.parse({ target: service, for: "60s", ...yaml });
  kindOf(fault).check(fault, service, replica.topology);
  const context = faultContext(replica, service);
  const started = performance.now();
  const applied = await kindOf(fault).apply(fault, context);
  return { fault, applied, applyMs: performance.now() - started, context };
}
