import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Check, checkSchema, experimentSchema, type Probe } from "../../src/experiments/schema.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import type { JournalEvent } from "../../src/journal/journal.js";
import type { Replica } from "../../src/replica/replica.js";
import { formatValue, type ProbeSample, probeValue } from "../../src/steady-state/checks.js";
import { metricNamesIn } from "../../src/steady-state/probe-preflight.js";
import {
  PromqlQueryError,
  queryPrometheus,
  sampleProbe,
  startProbes,
} from "../../src/steady-state/probes.js";
import { evaluateRun } from "../../src/verdict/evaluation.js";
import { validExperimentYaml as validExperiment } from "../support/experiments.js";
import { syntheticJournal } from "../support/journal.js";
import { validationMessage } from "../support/validation.js";

const check = (yaml: string): Check => parseYamlWithSchema("c.yaml", yaml, checkSchema);
const invalid = (yaml: string): string => validationMessage(() => check(yaml));

describe("probe checks in the schema", () => {
  it("parses PromQL, HTTP and command probes with their defaults", () => {
    const promql = check('promql: sum(up{job="lb"})\natLeast: 1\n');
    expect(promql).toMatchObject({
      metric: "promql",
      threshold: 1,
      probe: { kind: "promql", everyMs: 1000 },
    });
    expect(promql.name).toBe('sum(up{job="lb"}) atLeast 1');

    const http = check("http: { path: /healthz, status: 200, body: ok }\natLeast: 99%\nevery: 500ms\n");
    expect(http).toMatchObject({
      metric: "http.success",
      threshold: 0.99,
      probe: { kind: "http", endpoint: "lb", path: "/healthz", status: [200], body: "ok", everyMs: 500 },
    });
    const latency = check("http: { url: 'http://127.0.0.1:9/x', measure: latency }\nbelow: 200ms\n");
    expect(latency).toMatchObject({ metric: "http.latency", threshold: 200, probe: { timeoutMs: 2000 } });

    const command = check('command: { run: "nginx -t", in: edge-1 }\natLeast: 100%\n');
    expect(command).toMatchObject({
      metric: "command.success",
      probe: { kind: "command", argv: ["sh", "-c", "nginx -t"], in: "edge-1", exit: 0, everyMs: 2000 },
    });
  });

  it("parses throughput and status-class metrics in their units", () => {
    expect(check("metric: throughput\natLeast: 90/s\n").threshold).toBe(90);
    expect(check("metric: throughput\natLeast: 6000/m\n").threshold).toBe(100);
    expect(check("metric: status.5xx\nbelow: 1%\n").threshold).toBe(0.01);
    expect(check("promql: x\nbetween: [0.5, 2]\n")).toMatchObject({ threshold: 0.5, thresholdHigh: 2 });
  });

  it("rejects ambiguous or malformed probe checks with located errors", () => {
    expect(invalid("metric: errors.rate\npromql: up\nbelow: 1%\n")).toMatch(
      /c\.yaml:2:\d+ promql: expected exactly one of metric, promql, http, command, tls, dns, got metric and promql/,
    );
    expect(invalid("metric: errors.rate\nevery: 1s\nbelow: 1%\n")).toMatch(/every: expected every only on/);
    expect(invalid("promql: up\natLeast: lots\n")).toMatch(/expected a number such as 3 or 0.5 for promql/);
    expect(invalid("metric: throughput\natLeast: fast\n")).toMatch(/expected a rate such as "90\/s"/);
    expect(invalid("http: { body: '(' }\natLeast: 1%\n")).toMatch(
      /http\.body: expected a regular expression for body/,
    );
    expect(invalid("http: { url: 'http://x/', path: /y }\natLeast: 1%\n")).toMatch(
      /expected either url, or endpoint and path/,
    );
    expect(invalid("command: { run: [] }\natLeast: 100%\n")).toMatch(/command\.run/);
  });

  it("requires probes to be sampled at least once per window", () => {
    const yaml = validExperiment.replace(
      "    - metric: errors.rate",
      "    - { name: slow probe, promql: up, atLeast: 1, every: 10s }\n    - metric: errors.rate",
    );
    expect(() => parseYamlWithSchema("e.yaml", yaml, experimentSchema)).toThrow(
      /steadyState\.checks\[1\]\.every: expected every at most steadyState\.window \(5s\)/,
    );
  });

  it("requires check names to be unique, since probe samples and reports key on them", async () => {
    const yaml = validExperiment.replace(
      "    - metric: errors.rate",
      "    - { name: twice, promql: up, atLeast: 1 }\n    - { name: twice, promql: up, atLeast: 1 }\n    - metric: errors.rate",
    );
    const { experimentSchema } = await import("../../src/experiments/schema.js");
    expect(() => parseYamlWithSchema("e.yaml", yaml, experimentSchema)).toThrow(
      /steadyState\.checks\[2\]\.name: expected a name of its own; "twice" is also steadyState\.checks\[1\]/,
    );
  });
});

describe("metricNamesIn", () => {
  it.each([
    ["up", ["up"]],
    [
      'sum(rate(haproxy_backend_http_responses_total{code="5xx"}[30s]))',
      ["haproxy_backend_http_responses_total"],
    ],
    [
      "sum by (proxy) (haproxy_backend_active_servers) / on() group_left count(up)",
      ["haproxy_backend_active_servers", "up"],
    ],
    ["max(x_total offset 5m) or vector(0) and bool 1e3 > Inf", ["x_total"]],
    ['label_replace(up, "dst", "$1", "instance", "(.*):.*") unless absent(job:rule:rate5m)', ["up"]],
    ["absent_over_time(nope_total[5m]) or count(up) > 0", ["up"]],
    ["histogram_quantile(0.99, sum without (instance) (rate(h_bucket[1m:10s])))", ["h_bucket"]],
    ["time() - process_start_time_seconds @ end()", ["process_start_time_seconds"]],
    ["1 + 1", []],
  ])("%s", (query, names) => {
    expect(metricNamesIn(query)).toEqual(names);
  });
});

const condition = (
  probe: Probe,
  comparator: Check["comparator"],
  threshold: number,
  high?: number,
): Check => ({
  name: "c",
  metric:
    probe.kind === "promql" ? "promql" : probe.kind === "http" ? `http.${probe.measure}` : "command.success",
  probe,
  comparator,
  threshold,
  ...(high === undefined ? {} : { thresholdHigh: high }),
  thresholdText: String(threshold),
  weight: 1,
  phases: ["baseline", "inject", "recover", "verify"],
  allowForMs: 0,
});
const promql: Probe = { kind: "promql", query: "q", everyMs: 1000 };
const sample = (second: number, fields: Partial<ProbeSample>): ProbeSample => ({
  key: "c",
  second,
  ...fields,
});

describe("probeValue: a window's value from its samples", () => {
  it("takes the worst PromQL sample against the comparator", () => {
    const samples = [sample(0, { value: 3 }), sample(1, { value: 2 }), sample(2, { value: 4 })];
    expect(probeValue(condition(promql, "atLeast", 3), samples).value).toBe(2);
    expect(probeValue(condition(promql, "below", 3), samples).value).toBe(4);
    expect(probeValue(condition(promql, "between", 2.5, 3.2), samples).value).toBe(4);
  });

  it("reports no data, with the reason, when every sample failed", () => {
    const measured = probeValue(condition(promql, "atLeast", 1), [
      sample(0, { error: "the query matched no series" }),
    ]);
    expect(measured).toEqual({
      value: undefined,
      detail: "1 of 1 probe samples failed, last: the query matched no series",
    });
    expect(probeValue(condition(promql, "atLeast", 1), []).value).toBeUndefined();
  });

  it("gives HTTP and command probes their success share, and HTTP latency its slowest answer", () => {
    const http = check("http: { path: /x }\natLeast: 100%\n");
    const samples = [
      sample(0, { ok: true, latencyMs: 5 }),
      sample(1, { ok: false, latencyMs: 2000, error: "no answer within 2s" }),
      sample(2, { ok: true, latencyMs: 7 }),
      sample(3, { ok: true, latencyMs: 6 }),
    ];
    expect(probeValue(http, samples).value).toBe(0.75);
    const slowest = check("http: { path: /x, measure: latency }\nbelow: 100ms\n");
    expect(probeValue(slowest, samples).value).toBe(2000);
    expect(formatValue("http.latency", 2000)).toBe("2000ms");
    expect(formatValue("promql", 2)).toBe("2");
    expect(formatValue("throughput", 99.5)).toBe("99.5/s");
  });
});

describe("evaluateRun with probes", () => {
  const rotation = condition(promql, "atLeast", 3);
  const withProbes = (values: (number | undefined)[]): JournalEvent[] => [
    ...syntheticJournal(Array(19).fill({ latencyMs: 5 }), [
      ["warmup", 0],
      ["baseline", 1],
      ["inject", 5],
      ["recover", 9],
      ["verify", 15],
    ]),
    ...values.map(
      (value, second): JournalEvent => ({
        at: new Date(0).toISOString(),
        type: "probe",
        key: "c",
        second: second + 0.1,
        ...(value === undefined ? { error: "the query matched no series" } : { value }),
      }),
    ),
  ];

  it("judges probe checks per window like load metrics", () => {
    const values = [3, 3, 3, 3, 3, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];
    const evaluation = evaluateRun(withProbes(values), [rotation]);
    expect(evaluation.verdict).toBe("degraded");
    expect(evaluation.checks[0]?.phases.inject).toMatchObject({ windows: 2, held: 1, worst: 2 });
  });

  it("never passes a run whose check had no data under fault", () => {
    const values = [3, 3, 3, 3, 3, undefined, undefined, undefined, undefined, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];
    const evaluation = evaluateRun(withProbes(values), [rotation]);
    expect(evaluation.verdict).toBe("degraded");
    expect(evaluation.reason).toMatch(
      /^not measured in 2 of 2 windows under fault, so not known to have held \(c: no data/,
    );
  });

  it("makes a run inconclusive, naming the check and the reason, when a probe has no data at baseline", () => {
    const evaluation = evaluateRun(withProbes(Array(19).fill(undefined)), [rotation]);
    expect(evaluation.verdict).toBe("inconclusive");
    expect(evaluation.reason).toContain("no data at baseline: c: no data (");
    expect(evaluation.reason).toContain("the query matched no series");
  });
});

describe("sampling probes against local servers", () => {
  let server: Server;
  let base: string;
  let prometheusAnswer: unknown;
  const replica = (prometheus: string): Replica =>
    ({
      topology: { replica: "unit", services: [], edges: [], links: [] },
      endpoints: { lb: base, lbStats: base, toxiproxy: base, prometheus },
    }) as unknown as Replica;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith("/api/v1/query")) {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(prometheusAnswer));
      } else if (req.url === "/slow") {
        setTimeout(() => res.end("late"), 500);
      } else if (req.url === "/down") {
        res.statusCode = 503;
        res.end("down");
      } else {
        res.end("ok\n");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reads one value from Prometheus, and names what is wrong otherwise", async () => {
    prometheusAnswer = { status: "success", data: { resultType: "scalar", result: [1, "2.5"] } };
    expect(await queryPrometheus(base, "q")).toEqual({ value: 2.5 });
    const series = (n: number) => ({
      status: "success",
      data: {
        resultType: "vector",
        result: Array.from({ length: n }, (_, i) => ({ metric: { instance: `i${i}` }, value: [1, "3"] })),
      },
    });
    prometheusAnswer = series(1);
    expect(await queryPrometheus(base, "q")).toEqual({ value: 3 });
    prometheusAnswer = series(0);
    expect(await queryPrometheus(base, "q")).toEqual({
      error: "the query matched no series (if none means zero, end it with `or vector(0)`)",
    });
    prometheusAnswer = series(3);
    expect(await queryPrometheus(base, "q")).toMatchObject({
      error: expect.stringMatching(/3 series .*sum\(\)/),
    });
    prometheusAnswer = { status: "success", data: { resultType: "scalar", result: [1, "+Inf"] } };
    expect(await queryPrometheus(base, "q")).toEqual({ value: Number.POSITIVE_INFINITY });
    prometheusAnswer = { status: "success", data: { resultType: "scalar", result: [1, "NaN"] } };
    expect(await queryPrometheus(base, "q")).toEqual({ error: "the query's value is NaN" });
    prometheusAnswer = { status: "error", errorType: "bad_data", error: "parse error" };
    await expect(queryPrometheus(base, "q")).rejects.toBeInstanceOf(PromqlQueryError);
    const sampled = await sampleProbe(promql, replica(base));
    expect(sampled).toEqual({ error: "parse error" });
  });

  it("samples HTTP probes: success, wrong status, wrong body, timeout, refused", async () => {
    const http = (yaml: string) => check(`http: ${yaml}\natLeast: 100%\n`).probe as Probe;
    const r = replica(base);
    expect(await sampleProbe(http("{ path: /, body: ok }"), r)).toMatchObject({ ok: true });
    expect(await sampleProbe(http("{ path: /down }"), r)).toMatchObject({
      ok: false,
      error: "status 503, expected below 400",
    });
    expect(await sampleProbe(http("{ path: /, body: '^nope' }"), r)).toMatchObject({
      ok: false,
      error: "the body did not match /^nope/",
    });
    expect(await sampleProbe(http("{ path: /slow, timeout: 100ms }"), r)).toMatchObject({
      ok: false,
      latencyMs: 100,
      error: "no answer within 100ms",
    });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await sampleProbe(http(`{ url: "http://127.0.0.1:${port}/" }`), r)).toMatchObject({
      ok: false,
      error: expect.stringContaining("ECONNREFUSED"),
    });
  });

  it("samples command probes on this machine: exit code, output, timeout, missing binary", async () => {
    const command = (yaml: string) => check(`command: ${yaml}\natLeast: 100%\n`).probe as Probe;
    const r = replica(base);
    expect(await sampleProbe(command('{ run: "echo ready", output: "^ready$" }'), r)).toEqual({ ok: true });
    expect(await sampleProbe(command('{ run: "echo broken; exit 3" }'), r)).toEqual({
      ok: false,
      error: "exit 3, expected 0: broken",
    });
    expect(await sampleProbe(command('{ run: "echo x", output: "y" }'), r)).toEqual({
      ok: false,
      error: "the output did not match /y/",
    });
    expect(await sampleProbe(command('{ run: "sleep 5", timeout: 200ms }'), r)).toMatchObject({
      ok: false,
      error: expect.stringContaining("still running after 200ms"),
    });
    // A timeout stops the whole pipeline, not only the shell.
    const marker = `${(Math.random() * 1000 + 60).toFixed(3)}`;
    expect(await sampleProbe(command(`{ run: "sleep ${marker} | cat", timeout: 200ms }`), r)).toMatchObject({
      ok: false,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { execFileSync } = await import("node:child_process");
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })).not.toContain(`sleep ${marker}`);
    expect(await sampleProbe(command("{ run: [faultline-no-such-binary] }"), r)).toEqual({
      ok: false,
      error: "command not found: faultline-no-such-binary",
    });
  });

  it("schedules samples every interval, without overlap, and drops what is in flight when stopped", async () => {
    const seen: ProbeSample[] = [];
    const t0 = Date.now();
    const every = { ...promql, everyMs: 100 };
    const run = startProbes(
      [{ key: "c", probe: every }],
      replica(base),
      t0,
      (s) => seen.push(s),
      async () => ({
        value: 1,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 450));
    await run.stop();
    const count = seen.length;
    expect(count).toBeGreaterThanOrEqual(3);
    expect(count).toBeLessThanOrEqual(6);
    expect(seen.map((s) => s.second)).toEqual([...seen.map((s) => s.second)].sort((a, b) => a - b));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(seen.length).toBe(count);
  });
});
