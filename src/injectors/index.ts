import type { Fault } from "../experiments/schema.js";
import type { Injector } from "./injector.js";
import { latencyInjector } from "./latency.js";

/** The injector for a fault kind; adding a kind to the schema without one fails typecheck. */
export function injectorFor<F extends Fault>(fault: F): Injector<F> {
  const injectors: { [K in Fault["fault"]]: Injector<Extract<Fault, { fault: K }>> } = {
    latency: latencyInjector,
  };
  return injectors[fault.fault] as unknown as Injector<F>;
}
