import type { z } from "zod";
import type { LedgerEntry } from "../lifecycle/ledger.js";
import type { Replica } from "../replica/replica.js";
import type { Topology } from "../replica/topology.js";

// A fault kind is one module: everything Faultline knows about that kind lives in it and in
// nothing else. The experiment schema, `plan`, the capacity guard, the run, the ledger's
// crash revert, `recover`, the timings and the `init` scaffold all reach a kind through the
// registry (registry.ts), one line per kind.

export interface InjectorContext {
  replica: Replica;
  runId: string;
  /** Stable id of this action within the run, e.g. "f1" or "f2.edge-3". */
  faultId: string;
  /** The service (or link) the fault acts on: a target resolves to one or more of them. */
  service: string;
  /** When the action is due to be reverted (epoch ms): self-expiring mechanisms use it. */
  revertBy: number;
}

/** What a kind applied, and how to undo it. `revert` is idempotent. */
export interface AppliedFault {
  description: string;
  /** Facts worth journaling (e.g. the packet-loss backend that was used). */
  details?: Record<string, string>;
  revert(): Promise<void>;
}

/** One thing `recover` put right. */
export interface Recovered {
  kind: "ledger" | "toxic" | "sidecar" | "chain" | "container" | "process" | "config";
  target: string;
  what: string;
}

/** A container of the replica, as `recover` lists it once for every sweep. */
export interface ReplicaContainer {
  id: string;
  /** Container name (without Docker's leading slash). */
  name: string;
  service: string;
  role: string;
  state: string;
}

export interface SweepContext {
  replica: Replica;
  containers: readonly ReplicaContainer[];
  /** Runs one step of a sweep; a failing step is reported and the sweep goes on. */
  attempt(what: string, step: () => Promise<void>): Promise<void>;
  found(item: Recovered): void;
}

/**
 * What a crashed run may have left on a replica through one mechanism, found and swept without
 * any ledger. Kinds that share a mechanism (every Toxiproxy kind) share one Leftovers object,
 * so it is listed and swept once.
 */
export interface Leftovers {
  readonly id: string;
  /** Sweeps run in ascending order: containers run again before their namespaces are swept. */
  readonly order: number;
  find(replica: Replica, containers: readonly ReplicaContainer[]): Promise<string[]>;
  sweep(context: SweepContext): Promise<void>;
}

export interface FaultKind<F extends { fault: string } = { fault: string }> {
  /** How experiment files name it (`fault: latency`). */
  readonly kind: F["fault"];
  /** One line for the docs and `--help`: what the fault does and how. */
  readonly summary: string;
  /** `faultline init`: the target it suggests, and the kind's own lines (with comments). */
  readonly scaffold: { readonly target: string; readonly lines: readonly string[] };
  /** Throws an InvalidInputError naming what would work; runs before anything starts. */
  check(fault: F, service: string, topology: Topology): void;
  /** `plan`'s line for the action, and for its revert. */
  describe(fault: F, service: string, topology: Topology): string;
  describeRevert(fault: F, service: string, topology: Topology): string;
  /**
   * A mechanism of which one action per target may be active at a time on this topology (its
   * name, for the error), or undefined when its actions may overlap.
   */
  exclusive?(topology: Topology): string | undefined;
  /** Whether the service stops serving while the fault lasts (capacity guard, timings). */
  disruptive(fault: F): boolean;
  /** Applies the whole fault, or undoes its partial work and rethrows. */
  apply(fault: F, context: InjectorContext): Promise<AppliedFault>;
  /** Undoes one ledger entry of this kind from the entry alone (after a crash). */
  revertEntry(entry: LedgerEntry, replica: Replica): Promise<string>;
  /** The mechanisms whose leftovers `recover` finds and sweeps for this kind. */
  readonly leftovers: readonly Leftovers[];
}

/** A kind's module: the kind and its schema (fields, bounds, cross-field rules). */
export interface FaultKindModule<S extends z.ZodType<{ fault: string }> = z.ZodType<{ fault: string }>>
  extends FaultKind<z.output<S>> {
  readonly schema: S;
}
