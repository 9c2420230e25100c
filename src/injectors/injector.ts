import type { Fault } from "../experiments/schema.js";
import type { Replica } from "../replica/replica.js";
import type { Topology } from "../replica/topology.js";

export interface InjectorContext {
  replica: Replica;
  runId: string;
  /** Stable id of this action within the run, e.g. "f1" or "f2.edge-3". */
  faultId: string;
  /** The service the fault acts on (a target resolves to one or more services). */
  service: string;
  /** When the action is due to be reverted (epoch ms): self-expiring mechanisms use it. */
  revertBy: number;
}

/** What an injector applied, and how to undo it. `revert` is idempotent. */
export interface AppliedFault {
  description: string;
  /** Facts worth journaling (e.g. the packet-loss backend that was used). */
  details?: Record<string, string>;
  revert(): Promise<void>;
}

/**
 * One fault family. `check` runs before anything starts and throws an InvalidInputError
 * naming what would work; `apply` either applies the whole fault or undoes its partial work
 * and rethrows.
 */
export interface Injector<F extends Fault = Fault> {
  readonly kind: F["fault"];
  check(fault: F, service: string, topology: Topology): void;
  describe(fault: F, service: string, topology: Topology): string;
  describeRevert(fault: F, service: string): string;
  /** Whether the service stops serving while the fault lasts (for the capacity guard). */
  disruptive(fault: F): boolean;
  apply(fault: F, context: InjectorContext): Promise<AppliedFault>;
}
