import type { Fault } from "../experiments/schema.js";
import type { Replica } from "../replica/replica.js";
import type { Topology } from "../replica/topology.js";

export interface InjectorContext {
  replica: Replica;
  runId: string;
  /** Stable id of this fault within the run, e.g. "f1". */
  faultId: string;
}

/** What an injector applied, and how to undo it. `revert` is idempotent. */
export interface AppliedFault {
  description: string;
  revert(): Promise<void>;
}

/**
 * One fault family. `check` runs before anything is started and throws an InvalidInputError
 * naming what exists when the target does not; `apply` either applies the whole fault or
 * undoes its partial work and rethrows.
 */
export interface Injector<F extends Fault = Fault> {
  readonly kind: F["fault"];
  check(fault: F, topology: Topology): void;
  describe(fault: F): string;
  apply(fault: F, context: InjectorContext): Promise<AppliedFault>;
}
