import { closest } from "fastest-levenshtein";
import { z } from "zod";
import { EnvironmentError } from "../errors.js";
import type { Condition } from "../experiments/check-schema.js";
import type { LoadedExperiment } from "../experiments/loader.js";
import { fieldError, type PathKey } from "../format/located-yaml.js";
import type { Replica } from "../replica/replica.js";
import { PrometheusUnavailableError, PromqlQueryError, queryPrometheus } from "./probes.js";

// Before any fault: every probe that can be checked without running the experiment is. A
// PromQL query Prometheus rejects, a metric it has never seen, a command aimed at a service the
// replica lacks: each is a located error (exit 2), and nothing is touched.

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "and",
  "or",
  "unless",
  "atan2",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression selects. Strings, label matchers, ranges and the label
 * lists of by/without/on/ignoring/group_* are removed first; what remains that is neither a
 * function call, a keyword nor a number is a metric name.
 */
export function metricNamesIn(query: string): string[] {
  const stripped = withoutAbsent(query)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, " ")
    .replace(/@\s*(?:start|end)\s*\(\s*\)/g, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (!name || call || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** absent(x) and absent_over_time(x[..]) are meant for series that may not exist: skip them. */
function withoutAbsent(query: string): string {
  let out = query;
  for (;;) {
    const match = /\babsent(?:_over_time)?\s*\(/.exec(out);
    if (!match) return out;
    let depth = 1;
    let i = match.index + match[0].length;
    for (; i < out.length && depth > 0; i++) {
      if (out[i] === "(") depth++;
      else if (out[i] === ")") depth--;
    }
    out = `${out.slice(0, match.index)} ${out.slice(i)}`;
  }
}

const labelValues = z.object({ status: z.literal("success"), data: z.array(z.string()) });

/**
 * The metric names Prometheus knows, once they include `wanted` or after a few seconds: a
 * replica that just came up may not have been scraped yet (its scrape interval is 1 s), and a
 * metric missing only for that reason is not an unknown name.
 */
async function namesIncluding(
  prometheus: string,
  wanted: readonly string[],
  known: Set<string> | undefined,
): Promise<Set<string>> {
  let names = known ?? (await knownMetricNames(prometheus));
  for (let i = 0; i < 10 && wanted.some((n) => !names.has(n)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    names = await knownMetricNames(prometheus);
  }
  return names;
}

/** Metric names Prometheus knows, once it has scraped at least once (waits up to `waitMs`). */
async function knownMetricNames(baseUrl: string, waitMs = 15_000): Promise<Set<string>> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    let names: string[] = [];
    try {
      const response = await fetch(`${baseUrl}/api/v1/label/__name__/values`, {
        signal: AbortSignal.timeout(2000),
      });
      names = labelValues.parse(await response.json()).data;
    } catch {
      // Retried below until the deadline.
    }
    if (names.includes("up")) return new Set(names);
    if (Date.now() > deadline) {
      throw new EnvironmentError(`Prometheus at ${baseUrl} has not scraped any target yet`, {
        suggestion: "check `faultline replica status`; recreate the replica with `faultline replica up`",
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

interface Located {
  condition: Condition;
  path: PathKey[];
  label: string;
}

export async function preflightProbes(loaded: LoadedExperiment, replica: Replica): Promise<void> {
  const { experiment } = loaded;
  const all: Located[] = [
    ...experiment.steadyState.checks.map((condition, i) => ({
      condition,
      path: ["steadyState", "checks", i] as PathKey[],
      label: `check "${condition.name}"`,
    })),
    ...experiment.abort.map((condition, i) => ({
      condition,
      path: ["abort", i] as PathKey[],
      label: `abort condition "${condition.name}"`,
    })),
  ];
  let known: Set<string> | undefined;
  for (const { condition, path, label } of all) {
    const probe = condition.probe;
    if (probe?.kind === "command" && probe.in !== undefined) {
      const services = replica.topology.services.map((s) => s.name);
      if (!services.includes(probe.in)) {
        throw fieldError(
          loaded,
          [...path, "command", "in"],
          `${label}: the replica has no service "${probe.in}" (it has ${services.join(", ")})`,
          `did you mean "${closest(probe.in, services)}"?`,
        );
      }
    }
    if (probe?.kind !== "promql") continue;
    const where = [...path, "promql"];
    const prometheus = replica.endpoints.prometheus;
    try {
      await queryPrometheus(prometheus, probe.query);
    } catch (error) {
      if (error instanceof PromqlQueryError) {
        throw fieldError(
          loaded,
          where,
          `${label}: Prometheus rejected the query: ${error.message}`,
          `try the query in Prometheus' expression browser: ${prometheus}/graph`,
        );
      }
      if (error instanceof PrometheusUnavailableError) {
        throw new EnvironmentError(`${label} cannot be measured: ${error.message}`, {
          suggestion: "check `faultline replica status`",
        });
      }
      throw error;
    }
    known = await namesIncluding(prometheus, metricNamesIn(probe.query), known);
    const knownNames = known;
    const unknown = metricNamesIn(probe.query).filter((name) => !knownNames.has(name));
    if (unknown.length > 0) {
      const name = unknown[0] as string;
      throw fieldError(
        loaded,
        where,
        `${label}: Prometheus has no metric "${name}"${unknown.length > 1 ? ` (nor ${unknown.slice(1).join(", ")})` : ""}; the check would never have data`,
        `did you mean "${closest(name, [...knownNames])}"? The replica's metrics are listed at ${prometheus}/api/v1/label/__name__/values`,
      );
    }
  }
}
