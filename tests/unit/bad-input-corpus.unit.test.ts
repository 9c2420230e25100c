import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FaultlineError, ValidationError } from "../../src/errors.js";
import { loadExperiment } from "../../src/experiments/loader.js";
import { parseDuration } from "../../src/units.js";
import { tempDir } from "../support/temp.js";

// The bad-input corpus: tests/corpus/bad-input holds hand-written malformed experiments, each
// naming the field its error must point at (# expect-path), what the message must say
// (# expect-message) and, where it matters, the column in the file (# expect-column).
// Property-based cases (fast-check) add generated ones: unknown fields and bad durations at
// random places, and arbitrary damage to a valid file. Every one must be a
// located error (file:line:column, a field path) and never a crash.
// tests/integration/bad-input-corpus.int.test.ts runs the same files through the CLI.

const CORPUS = "tests/corpus/bad-input";

const BASE = `version: 1
name: corpus
load:
  rate: 50/s
  warmup: 2s
  timeout: 2s
steadyState:
  window: 5s
  baseline: 10s
  checks:
    - metric: latency.p99
      below: 300ms
method:
  - fault: latency
    target: edge-1
    latency: 150ms
    at: 0s
    for: 20s
`;

async function failure(file: string): Promise<ValidationError> {
  const error = await loadExperiment(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof ValidationError) return error;
  throw new Error(
    `${file}: expected a located error, got ${error === undefined ? "a valid experiment" : String(error)}`,
  );
}

function expectLocated(error: ValidationError, file: string, text: string): void {
  const lines = text.split("\n").length;
  expect(error.issues.length).toBeGreaterThan(0);
  for (const issue of error.issues) {
    expect(issue.file).toBe(file);
    expect(issue.line).toBeGreaterThanOrEqual(1);
    expect(issue.line).toBeLessThanOrEqual(lines + 1);
    expect(issue.column).toBeGreaterThanOrEqual(1);
    expect(issue.message).not.toMatch(/\n\s+at /);
  }
  for (const line of error.message.split("\n")) expect(line.startsWith(`${file}:`)).toBe(true);
}

describe("the hand-written bad-input corpus", () => {
  const files = readdirSync(CORPUS)
    .filter((f) => f.endsWith(".yaml"))
    .sort();

  it("has at least 90 files", () => {
    expect(files.length).toBeGreaterThanOrEqual(90);
  });

  it.each(files)("%s: a located error at the field it names", async (name) => {
    const file = join(CORPUS, name);
    const text = readFileSync(file, "utf8");
    const path = /^# expect-path: (.*)$/m.exec(text)?.[1]?.trim() ?? "";
    const fragment = /^# expect-message: (.*)$/m.exec(text)?.[1]?.trim() ?? "";
    const column = /^# expect-column: (\d+)$/m.exec(text)?.[1];
    const error = await failure(file);
    expectLocated(error, file, text);
    const issue = error.issues.find((i) => i.path === path && i.message.includes(fragment));
    expect(issue, `${error.message}\n  wanted [${path}] containing "${fragment}"`).toBeDefined();
    if (column) expect(issue?.column, `${file}: the column inside the value`).toBe(Number(column));
    // The line it points at is the field's own line, when the field is written in the file.
    const key = /([A-Za-z0-9_-]+)$/.exec(path)?.[1];
    if (issue && key && new RegExp(`^\\s*(- )?${key}:`, "m").test(text)) {
      // The key's own line, or the first line of its block value right below the key.
      const source = text.split("\n")[issue.line - 1] ?? "";
      const above = text.split("\n")[issue.line - 2] ?? "";
      const atKey = source.includes(key) || new RegExp(`${key}:\\s*$`).test(above);
      expect(atKey, `${file}:${issue.line} for ${path}: "${source}"`).toBe(true);
    }
  });
});

describe("generated bad input (fast-check)", () => {
  const dir = tempDir("faultline-corpus-");
  const lines = BASE.trimEnd().split("\n");
  /** Where a field can be added: after this line, at this indentation, with this path. */
  const maps = [
    { after: 2, indent: "", path: [] as string[] },
    { after: 6, indent: "  ", path: ["load"] },
    { after: 9, indent: "  ", path: ["steadyState"] },
    { after: 12, indent: "      ", path: ["steadyState", "checks[0]"] },
    { after: 18, indent: "    ", path: ["method[0]"] },
  ];
  const known = new Set(
    [
      "version name description tags params replica load steadyState method abort score safety",
      "rate path warmup timeout window baseline recover verify checks metric promql http command every",
      "below above atMost atLeast between phases weight tolerate pop name fault at for target direction",
      "share latency jitter",
    ]
      .join(" ")
      .split(" "),
  );
  let count = 0;
  const write = (text: string) => {
    const file = join(dir, `generated-${++count}.yaml`);
    writeFileSync(file, text);
    return file;
  };

  it("an unknown field anywhere is reported at its own line, by name", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...maps),
        fc.stringMatching(/^[a-z][a-zA-Z]{2,11}$/).filter((k) => !known.has(k)),
        async (at, key) => {
          const text = [...lines.slice(0, at.after), `${at.indent}${key}: 1`, ...lines.slice(at.after)].join(
            "\n",
          );
          const file = write(text);
          const error = await failure(file);
          expectLocated(error, file, text);
          const path = [...at.path, key].join(".");
          const issue = error.issues.find((i) => i.path === path);
          expect(issue?.message).toContain(`unknown field "${key}"`);
          expect(issue?.line).toBe(at.after + 1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a value that is not a duration is reported at its field", async () => {
    const fields = [
      { line: 5, key: "warmup", path: "load.warmup" },
      { line: 6, key: "timeout", path: "load.timeout" },
      { line: 8, key: "window", path: "steadyState.window" },
      { line: 9, key: "baseline", path: "steadyState.baseline" },
      { line: 16, key: "latency", path: "method[0].latency" },
      { line: 17, key: "at", path: "method[0].at" },
      { line: 18, key: "for", path: "method[0].for" },
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc
          .stringMatching(/^[a-z0-9 .]{1,12}$/)
          .filter((v) => parseDuration(v.trim()) === undefined && v.trim() !== ""),
        async (field, value) => {
          const copy = [...lines];
          const indent = /^\s*/.exec(copy[field.line - 1] ?? "")?.[0] ?? "";
          copy[field.line - 1] = `${indent}${field.key}: "${value}"`;
          const text = copy.join("\n");
          const file = write(text);
          const error = await failure(file);
          expectLocated(error, file, text);
          const issue = error.issues.find((i) => i.path === field.path);
          expect(issue?.message, error.message).toMatch(/expected a duration/);
          expect(issue?.line).toBe(field.line);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("arbitrary damage to a valid file is a located error or a valid file, never a crash", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: BASE.length }),
        fc.integer({ min: 0, max: 40 }),
        fc.string({ maxLength: 12 }),
        async (at, cut, inserted) => {
          const text = BASE.slice(0, at) + inserted + BASE.slice(Math.min(BASE.length, at + cut));
          const file = write(text);
          const outcome = await loadExperiment(file).then(
            () => undefined,
            (e: unknown) => e,
          );
          if (outcome === undefined) return;
          expect(outcome).toBeInstanceOf(FaultlineError);
          if (outcome instanceof ValidationError) expectLocated(outcome, file, text);
        },
      ),
      { numRuns: 150 },
    );
  });
});
