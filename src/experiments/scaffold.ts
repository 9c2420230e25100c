import { parseYamlWithSchema } from "../format/located-yaml.js";
import { experimentSchema, type FaultKind } from "./schema.js";

// `faultline init`: a commented experiment to start from, for one fault kind. What it writes
// is parsed with the experiment schema before it is returned, so a scaffold is always valid.

export interface ScaffoldOptions {
  name: string;
  fault: FaultKind;
  target: string;
  rate: string;
  for: string;
  description?: string | undefined;
}

/** The fault's own lines (two-space indented under `- fault:`), with a sensible default each. */
const faultLines: Record<FaultKind, string[]> = {
  latency: ["latency: 150ms            # added to every response", "jitter: 10ms", "direction: downstream"],
  bandwidth: ["rate: 100KB/s             # per connection", "direction: downstream"],
  timeout: ["after: 0s                 # 0s holds connections until reverted (black hole)"],
  reset: ["after: 0s                 # reset connections as soon as data flows"],
  "packet-loss": ["loss: 5%", "direction: both"],
  "node-kill": ["mode: kill                # kill, stop, pause or restart", "signal: SIGKILL"],
  partition: ["# from: origin            # cut off from one service only (default: everything)"],
  stress: ["cpu: 1                    # busy workers, about one core each", "memory: 256MB"],
  "origin-brownout": [
    "errors: 30%               # share of origin responses replaced by a 5xx",
    "status: 503",
  ],
};

export const defaultTargets: Record<FaultKind, string> = {
  latency: "edge-1",
  bandwidth: "edge-1",
  timeout: "edge-1",
  reset: "edge-1",
  "packet-loss": "edge-2",
  "node-kill": "{ role: edge, pick: 1 }",
  partition: "edge-1",
  stress: "edge-1",
  "origin-brownout": "origin",
};

export function scaffoldExperiment(options: ScaffoldOptions): string {
  const text = `# ${options.name}: ${options.fault} on ${options.target}, written by \`faultline init\`.
# Check it with \`faultline validate\`, preview the actions with \`faultline plan\`, then
# \`faultline run\` it. The experiment format is described in docs/design.md.
version: 1
name: ${options.name}
description: ${JSON.stringify(options.description ?? `${options.fault} on ${options.target} under load`)}
tags: [${options.fault}]
replica: default                  # the built-in PoP; brought up on demand

load:
  rate: ${options.rate}                    # constant arrival rate, driven through the load balancer
  path: /
  warmup: 5s
  timeout: 2s                     # a slower request counts as an error

steadyState:
  window: 5s
  baseline: 15s                   # must hold before any fault is injected
  verify: 15s                     # must hold again after the fault is reverted
  checks:
    - name: error rate under 1%
      metric: errors.rate
      below: 1%
    - name: p99 latency under 300ms
      metric: latency.p99
      below: 300ms

method:
  - fault: ${options.fault}
    target: ${options.target}
    for: ${options.for}
${faultLines[options.fault].map((line) => `    ${line}`).join("\n")}

abort:                            # reverts every fault at once when breached
  - name: more than half of requests failing
    metric: errors.rate
    above: 50%
    for: 5s

score:
  recoveryTarget: 15s             # degraded (not failed) if the steady state is back within this
`;
  parseYamlWithSchema(`${options.name}.yaml`, text, experimentSchema);
  return text;
}
