// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${name} placeholders are what these tests are about

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseParamFlags } from "../../src/cli/params.js";
import { InvalidInputError, ValidationError } from "../../src/errors.js";
import { loadExperiment } from "../../src/experiments/loader.js";
import { experimentSchema } from "../../src/experiments/schema.js";
import { loadSuiteFile, suiteFileSchema } from "../../src/experiments/suite-file.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { goGates } from "../../src/reports/gates.js";
import type { RunReport } from "../../src/reports/model.js";
import { loadSuite, runSuite } from "../../src/run/suite.js";
import { measureConditions } from "../../src/steady-state/checks.js";
import { BucketAggregator } from "../../src/steady-state/metrics.js";
import { validExperimentYaml } from "../support/experiments.js";
import { tempDir } from "../support/temp.js";

// Parameters (${name} placeholders), suite files with go criteria, and the traffic.share check.

const messageOf = async (action: () => Promise<unknown>): Promise<string> => {
  const error = await action().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof ValidationError) return error.message;
  throw new Error(`expected a ValidationError, got ${String(error)}`);
};

const withTarget = (target: string, extra = "") =>
  validExperimentYaml
    .replace("name: unit-test", `name: unit-test${extra}`)
    .replace("target: edge-1", `target: ${target}`);

describe("experiment parameters", () => {
  it("fills ${name} from the experiment's params, and a given value wins", async () => {
    const dir = tempDir("faultline-params-");
    const file = join(dir, "p.yaml");
    writeFileSync(file, withTarget('"${edge}"', "\nparams: { edge: edge-2 }"));
    const own = await loadExperiment(file);
    expect(own.experiment.method[0]?.target).toEqual({ kind: "name", name: "edge-2" });
    const given = await loadExperiment(file, { params: { edge: "edge-3" } });
    expect(given.experiment.method[0]?.target).toEqual({ kind: "name", name: "edge-3" });
    // $${ is a literal ${.
    writeFileSync(
      file,
      withTarget("edge-1").replace(
        "name: unit-test",
        () => "name: unit-test\nparams: { edge: edge-2 }\ndescription: costs $${x}",
      ),
    );
    expect((await loadExperiment(file)).experiment.description).toBe("costs ${x}");
  });

  it("an unknown placeholder is a located error naming the known ones", async () => {
    const dir = tempDir("faultline-params-");
    const file = join(dir, "p.yaml");
    writeFileSync(file, withTarget('"${pop}"', "\nparams: { edge: edge-2 }"));
    expect(await messageOf(() => loadExperiment(file))).toBe(
      `${file}:15:13 method[0].target: unknown parameter \${pop} (known: edge)`,
    );
  });

  it("without a params: block, ${...} is left as written (a shell variable in a command probe)", async () => {
    const dir = tempDir("faultline-params-");
    const file = join(dir, "p.yaml");
    writeFileSync(
      file,
      withTarget("edge-1").replace(
        "    - metric: errors.rate\n      below: 1%\n",
        () => "    - command: { run: [sh, -c, 'test -n \"${HOSTNAME}\"'] }\n      atLeast: 99%\n",
      ),
    );
    const loaded = await loadExperiment(file, { params: { edge: "edge-9" }, allowHostCommands: true });
    expect(JSON.stringify(loaded.experiment.steadyState.checks[1])).toContain("${HOSTNAME}");
    // A whole plain placeholder takes the value's type: pick: ${n} is a number.
    writeFileSync(file, withTarget("\n      role: edge\n      pick: ${n}", "\nparams: { n: 2 }"));
    expect((await loadExperiment(file)).experiment.method[0]?.target).toMatchObject({
      kind: "role",
      pick: 2,
    });
  });

  it("a placeholder keeps the position of its field for later errors", async () => {
    const dir = tempDir("faultline-params-");
    const file = join(dir, "p.yaml");
    writeFileSync(
      file,
      withTarget("edge-1", "\nparams: { slow: 1s }").replace("latency: 150ms", 'latency: "${slow}"'),
    );
    expect(await messageOf(() => loadExperiment(file, { params: { slow: "soon" } }))).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:16:14 method\\[0\\]\\.latency: expected a duration`,
      ),
    );
  });
});

describe("suite files", () => {
  const suiteYaml = `version: 1
name: launch-readiness
release: 1.0.0
params: { edge: edge-2 }
go: { minScore: 80, maxDetect: 6s, maxFailBack: 30s }
`;

  it("a folder's suite.yaml gives its experiments their params and is not loaded as an experiment", async () => {
    const dir = tempDir("faultline-suite-");
    mkdirSync(join(dir, "pack"));
    writeFileSync(join(dir, "pack", "suite.yaml"), suiteYaml);
    writeFileSync(join(dir, "pack", "a.yaml"), withTarget('"${edge}"', "\nparams: { edge: edge-1 }"));
    const suite = await loadSuiteFile(join(dir, "pack"));
    expect(suite).toMatchObject({ name: "launch-readiness", release: "1.0.0", params: { edge: "edge-2" } });
    expect(suite?.go).toEqual({ minScore: 80, acceptDegraded: true, maxDetect: 6000, maxFailBack: 30000 });
    const loaded = await loadSuite([join(dir, "pack")], [], suite?.params);
    expect(loaded.map((l) => l.experiment.method[0]?.target)).toEqual([{ kind: "name", name: "edge-2" }]);
  });

  it("a parameter no experiment declares is refused before anything starts (a typo, not a no-op)", async () => {
    const dir = tempDir("faultline-suite-");
    writeFileSync(join(dir, "a.yaml"), withTarget('"${edge}"', "\nparams: { edge: edge-1 }"));
    const error = await runSuite({
      paths: [dir],
      params: { egde: "edge-2" },
      runsDir: join(dir, "runs"),
      edges: 3,
      signal: new AbortController().signal,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe("no experiment declares the parameter egde");
    expect((error as InvalidInputError).suggestion).toBe("the experiments declare: edge");
  });

  it("rejects a suite file without a release, located", () => {
    let message = "";
    try {
      parseYamlWithSchema(
        "suite.yaml",
        suiteYaml.replace("release: 1.0.0\n", "release: v1\n"),
        suiteFileSchema,
      );
    } catch (e) {
      if (e instanceof ValidationError) message = e.message;
    }
    expect(message).toBe('suite.yaml:3:10 release: expected a release such as "1.0.0"');
  });

  it("go criteria are gates on a run: verdict, score, time out of rotation and fail-back", () => {
    const suite = parseYamlWithSchema("suite.yaml", suiteYaml, suiteFileSchema);
    const report = (verdict: string, score: number, detectMs: number | null, failBackMs: number | null) =>
      ({
        verdict: { verdict, reason: "", exitCode: 0 },
        score: { value: score },
        timings: {
          pops: {
            share: {},
            failovers: [
              {
                fault: "f1",
                pop: "pop-new",
                kind: "node-kill",
                detectMs,
                movedMs: 1000,
                duringMove: { requests: 1, errors: 0, errorRate: 0, p99Ms: 1 },
                backInRotationMs: 1000,
                failBackMs,
              },
            ],
          },
        },
      }) as unknown as RunReport;
    const go = goGates(suite, report("degraded", 85, 1800, 1000));
    expect(go.map((g) => [g.name, g.ok, g.message])).toEqual([
      ["go: verdict", true, "degraded"],
      ["go: score", true, "85 (at least 80)"],
      ["go: pop-new out of rotation", true, "1.8s (at most 6s)"],
      ["go: pop-new fail-back", true, "1s (at most 30s)"],
    ]);
    const noGo = goGates(suite, report("failed", 70, null, 40_000));
    expect(noGo.filter((g) => !g.ok).map((g) => `${g.name}: ${g.message}`)).toEqual([
      "go: verdict: failed; a go needs passed or degraded",
      "go: score: 70 (at least 80)",
      "go: pop-new out of rotation: never (at most 6s)",
      "go: pop-new fail-back: 40s (at most 30s)",
    ]);
  });
});

describe("the traffic.share check", () => {
  const parse = (check: string) =>
    parseYamlWithSchema(
      "e.yaml",
      validExperimentYaml.replace("    - metric: latency.p99\n      below: 300ms\n", check),
      experimentSchema,
    );

  it("needs a pop, and only it takes one", () => {
    const problem = (check: string) => {
      try {
        parse(check);
      } catch (e) {
        if (e instanceof ValidationError) return e.message;
      }
      return "";
    };
    expect(problem("    - metric: traffic.share\n      atLeast: 40%\n")).toBe(
      "e.yaml:8:15 steadyState.checks[0].metric: expected pop: with metric traffic.share (the PoP whose share is measured)",
    );
    expect(problem("    - metric: errors.rate\n      pop: pop-b\n      below: 1%\n")).toBe(
      "e.yaml:9:12 steadyState.checks[0].pop: expected pop only with metric: traffic.share",
    );
    const check = parse("    - metric: traffic.share\n      pop: pop-b\n      atLeast: 40%\n").steadyState
      .checks[0];
    expect(check).toMatchObject({ name: "traffic.share of pop-b atLeast 40%", pop: "pop-b", threshold: 0.4 });
  });

  it("measures the share of a window's requests that the PoP's edges served", () => {
    const check = parse("    - metric: traffic.share\n      pop: pop-b\n      atLeast: 40%\n").steadyState
      .checks[0];
    if (!check) throw new Error("no check");
    const aggregator = new BucketAggregator(0, 0);
    const edges = ["a-1", "b-1", "b-2", "a-1", "b-1", undefined, "a-1", "b-2"];
    edges.forEach((edge, i) => {
      aggregator.add({
        startedAt: i * 250,
        latencyMs: 1,
        status: edge ? 200 : 0,
        error: edge ? "" : "reset",
        edge,
      });
    });
    const buckets = aggregator.releaseUpTo(2);
    const pops = { "pop-a": ["a-1"], "pop-b": ["b-1", "b-2"] };
    const [measured] = measureConditions(
      [check],
      { buckets, probes: [], pops },
      { start: 0, end: 2 },
      () => "",
    );
    expect(measured?.value).toBe(4 / 8);
    const [none] = measureConditions([check], { buckets, probes: [] }, { start: 0, end: 2 }, () => "");
    expect(none?.value).toBeUndefined();
  });
});

describe("--param flags", () => {
  it("read name=value pairs, a value may hold '='", () => {
    expect(parseParamFlags(["pop=pop-b", "query=a=b", "empty="])).toEqual({
      pop: "pop-b",
      query: "a=b",
      empty: "",
    });
  });

  it("refuse a pair without '=' or with a bad name, for run and validate alike", () => {
    expect(() => parseParamFlags(["pop"])).toThrow(/--param: expected name=value, got "pop"/);
    expect(() => parseParamFlags(["1pop=a"])).toThrow(/expected name=value/);
  });
});
