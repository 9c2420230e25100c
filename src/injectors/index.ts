import type { Fault, FaultKind } from "../experiments/schema.js";
import type { Injector } from "./injector.js";
import { nodeKillInjector } from "./node-kill.js";
import { originBrownoutInjector } from "./origin-brownout.js";
import { packetLossInjector } from "./packet-loss.js";
import { partitionInjector } from "./partition.js";
import { stressInjector } from "./stress.js";
import { bandwidthInjector, latencyInjector, resetInjector, timeoutInjector } from "./toxics.js";

type InjectorMap = { [K in FaultKind]: Injector<Extract<Fault, { fault: K }>> };

// Adding a fault kind to the schema without an injector here fails the typecheck.
const injectors: InjectorMap = {
  latency: latencyInjector,
  bandwidth: bandwidthInjector,
  timeout: timeoutInjector,
  reset: resetInjector,
  "node-kill": nodeKillInjector,
  "packet-loss": packetLossInjector,
  partition: partitionInjector,
  stress: stressInjector,
  "origin-brownout": originBrownoutInjector,
};

export function injectorFor<F extends Fault>(fault: F): Injector<F> {
  return injectors[fault.fault as FaultKind] as unknown as Injector<F>;
}
