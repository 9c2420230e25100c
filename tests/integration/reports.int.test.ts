import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { runReportSchema } from "../../src/reports/model.js";
import { runCli } from "../support/cli.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// One experiment, three real runs through the CLI: all four reports, the HTML in headless
// Chromium, the history, and the gates (a regressed run fails, an equal one passes).

const NAME = "it-reports";
const ARTIFACTS = join(process.cwd(), "artifacts");

const experiment = (latency: string) => `version: 1
name: report-gates
tags: [reports]
load: { rate: 40/s, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 2s
  recover: 2s
  verify: 2s
  checks:
    - { name: p99 under 100ms, metric: latency.p99, below: 100ms }
    - { name: errors under 1%, metric: errors.rate, below: 1% }
method:
  - { fault: latency, target: edge-1, latency: ${latency}, for: 4s }
`;

const junitCases = (xml: string) => {
  const parsed = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "",
    isArray: (n) => n === "testcase" || n === "testsuite",
  }).parse(xml);
  return (
    parsed.testsuites.testsuite as { testcase: { name: string; failure?: { message: string } }[] }[]
  ).flatMap((s) => s.testcase);
};

describe("reports, history and gates across real runs", () => {
  useReplica(NAME);
  const dir = tempDir("faultline-reports-");
  const runsDir = join(dir, "runs");
  const mild = join(dir, "mild.yaml");
  const severe = join(dir, "severe.yaml");
  writeFileSync(mild, experiment("5ms"));
  writeFileSync(severe, experiment("400ms"));
  const run = (file: string, ...extra: string[]) =>
    runCli(["run", file, "--replica", NAME, "--runs-dir", runsDir, "--json", ...extra]);
  let first: { runId: string; runDir: string } | undefined;

  it("one run writes all four reports: JSON by its schema, JUnit by a parser, Markdown, HTML", async () => {
    const result = await run(mild, "--fail-under", "50");
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as {
      runs: { runId: string; runDir: string; reports: Record<string, string> }[];
    };
    const [only] = output.runs;
    first = only;
    const files = only?.reports ?? {};
    expect(Object.keys(files).sort()).toEqual(["html", "json", "junit", "md"]);
    for (const path of Object.values(files)) expect(existsSync(path)).toBe(true);

    const report = runReportSchema.parse(JSON.parse(readFileSync(files.json as string, "utf8")));
    const xml = readFileSync(files.junit as string, "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const cases = junitCases(xml);
    const md = readFileSync(files.md as string, "utf8");
    console.log(
      `[reports] ${report.run.id}: ${report.verdict.verdict}, score ${report.score?.value}; JUnit ${cases.length} cases (${cases.map((c) => c.name).join(", ")}); Markdown ${md.length} chars; HTML ${readFileSync(files.html as string).length} bytes`,
    );
    expect(report.verdict.verdict).toBe("passed");
    expect(cases.map((c) => c.name)).toEqual([
      "verdict",
      "p99 under 100ms",
      "errors under 1%",
      "score at least 50",
    ]);
    expect(cases.every((c) => c.failure === undefined)).toBe(true);
    expect(md.split("\n")[0]).toMatch(/^## ✅ report-gates: PASSED \(exit 0\), score 100\/100$/);

    const rerendered = await runCli(["report", only?.runId ?? "", "--runs-dir", runsDir, "--format", "md"]);
    expect(rerendered.code).toBe(0);
    expect(rerendered.stdout.split("\n")[0]).toBe(md.split("\n")[0]);
  });

  it("the HTML report renders its charts in headless Chromium", async () => {
    const html = join(first?.runDir ?? "", "report.html");
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`file://${html}`);
      await page.waitForFunction('document.body.dataset.chartsRendered === "4"', undefined, {
        timeout: 15_000,
      });
      // Every canvas has drawn pixels: count the non-transparent ones (runs in the page).
      const inked = (await page.evaluate(`[...document.querySelectorAll("canvas")].map((canvas) => {
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let pixels = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) pixels++;
        return { id: canvas.id, pixels };
      })`)) as { id: string; pixels: number }[];
      mkdirSync(ARTIFACTS, { recursive: true });
      const screenshot = join(ARTIFACTS, "report-html.png");
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(
        `[reports] charts drawn: ${inked.map((c) => `${c.id} ${c.pixels} px`).join(", ")}; screenshot ${screenshot}`,
      );
      expect(errors).toEqual([]);
      expect(inked.map((c) => c.id)).toEqual([
        "chart-latency",
        "chart-errors",
        "chart-throughput",
        "chart-score",
      ]);
      for (const c of inked) expect(c.pixels).toBeGreaterThan(2000);
    } finally {
      await browser.close();
    }
  });

  it("a suite: a folder filtered by tag, one summary, one JUnit file, the most severe exit code", async () => {
    const suiteDir = join(dir, "suite");
    mkdirSync(suiteDir, { recursive: true });
    const named = (name: string, tags: string, latency: string) =>
      experiment(latency)
        .replace("name: report-gates", `name: ${name}`)
        .replace("tags: [reports]", `tags: [${tags}]`);
    writeFileSync(join(suiteDir, "a-mild.yaml"), named("suite-mild", "suite", "5ms"));
    writeFileSync(join(suiteDir, "b-slow.yaml"), named("suite-slow", "suite", "400ms"));
    writeFileSync(join(suiteDir, "c-other.yaml"), named("suite-other", "other", "5ms"));
    const junit = join(dir, "suite-junit.xml");
    const result = await runCli([
      "run",
      suiteDir,
      "--tag",
      "suite",
      "--replica",
      NAME,
      "--runs-dir",
      join(dir, "suite-runs"),
      "--junit",
      junit,
    ]);
    const suites = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: "",
      isArray: (n) => n === "testsuite",
    }).parse(readFileSync(junit, "utf8")).testsuites.testsuite as { name: string; failures: string }[];
    const summary = result.stdout.slice(result.stdout.indexOf("suite: "));
    console.log(`[suite] exit ${result.code}\n${summary}`);
    expect(summary).toMatch(/^suite: 2 experiment\(s\), exit 5/);
    // One seed for the suite, printed with every run: --seed N replays its target choices.
    const seeds = [...result.stdout.matchAll(/^seed: (\d+) \(--seed \1 replays the target choices\)$/gm)];
    expect(seeds.map((m) => m[1])).toEqual([seeds[0]?.[1], seeds[0]?.[1]]);
    expect(summary).toMatch(/suite-mild\s+passed\s+score\s+100/);
    expect(summary).toMatch(/suite-slow\s+degraded/);
    expect(summary).not.toContain("suite-other");
    expect(result.code).toBe(5);
    expect(suites.map((s) => s.name)).toEqual(["suite-mild", "suite-slow"]);
  });

  it("gates: a regressed run fails against the latest, an equal run passes against the first; history lists them", async () => {
    const junit = join(dir, "junit.xml");
    const regressed = await run(severe, "--baseline", "latest", "--junit", junit);
    const regressedRun = (
      JSON.parse(regressed.stdout) as { runs: { gates: { name: string; ok: boolean; message: string }[] }[] }
    ).runs[0];
    const failedGates = regressedRun?.gates.filter((g) => !g.ok) ?? [];
    const equal = await run(mild, "--baseline", first?.runId ?? "");
    const equalRun = (JSON.parse(equal.stdout) as { runs: { gates: { ok: boolean }[] }[] }).runs[0];
    const history = await runCli(["history", "--runs-dir", runsDir, "--json"]);
    const listed = JSON.parse(history.stdout) as {
      runs: { id: string; verdict: string; score: number | null; gatesFailed: number }[];
      trends: { experiment: string; scores: (number | null)[]; change: number | null }[];
    };
    const text = await runCli(["history", "--runs-dir", runsDir]);
    console.log(
      `[gates] regressed run: exit ${regressed.code}, failed ${failedGates.map((g) => `${g.name} (${g.message})`).join("; ")}; equal run: exit ${equal.code}, ${equalRun?.gates.length} gates passed\n${text.stdout}`,
    );
    expect(regressed.code).toBe(7);
    expect(failedGates.map((g) => g.name)).toContain(`score not regressed against ${first?.runId}`);
    expect(
      junitCases(readFileSync(junit, "utf8")).find((c) => c.name.startsWith("score not regressed"))?.failure,
    ).toBeDefined();
    expect(equal.code).toBe(0);
    expect(equalRun?.gates.length).toBeGreaterThan(0);
    expect(equalRun?.gates.every((g) => g.ok)).toBe(true);

    expect(listed.runs).toHaveLength(3);
    expect(listed.runs[2]?.id).toBe(first?.runId);
    expect(listed.runs[1]?.gatesFailed).toBeGreaterThan(0);
    const trend = listed.trends.find((t) => t.experiment === "report-gates");
    expect(trend?.scores).toHaveLength(3);
    expect(trend?.scores[0]).toBe(100);
    expect(trend?.scores[2]).toBe(100);
    expect(text.stdout).toContain("score trend");
  });
});
