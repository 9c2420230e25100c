import { kindByName } from "../faults/registry.js";
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

/** The target `init` suggests for a kind: its module's. */
export function defaultTarget(fault: FaultKind): string {
  return kindByName(fault).scaffold.target;
}

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
${kindByName(options.fault)
  .scaffold.lines.map((line) => `    ${line}`)
  .join("\n")}

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
