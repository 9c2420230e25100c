/** A valid experiment document that tests vary one field at a time. */
export const validExperimentYaml = `version: 1
name: unit-test
load:
  rate: 100/s
steadyState:
  window: 5s
  checks:
    - metric: latency.p99
      below: 300ms
    - metric: errors.rate
      below: 1%
method:
  - fault: latency
    target: edge-1
    latency: 150ms
    for: 20s
`;
