import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";

/** Median, p90 and extremes of a set of measurements (milliseconds), through an HDR histogram. */
export function summarize(values: readonly number[]): {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
} {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  for (const v of values) histogram.recordValue(Math.max(1, Math.round(v * 1000)));
  const at = (p: number) => histogram.getValueAtPercentile(p) / 1000;
  const result = {
    n: values.length,
    median: at(50),
    p90: at(90),
    min: Math.min(...values),
    max: Math.max(...values),
  };
  histogram.destroy();
  return result;
}

/** The machine a figure was measured on, recorded next to it. */
export function machine(): Record<string, string | number> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

/** Writes artifacts/bench/<name>.json and prints one line per figure. */
export function record(name: string, figures: Record<string, unknown>): void {
  const dir = join("artifacts", "bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${name}.json`),
    `${JSON.stringify({ name, at: new Date().toISOString(), machine: machine(), figures }, null, 2)}\n`,
  );
  console.log(`[bench ${name}] ${JSON.stringify(figures)}`);
}

export const ms = (n: number) => Math.round(n * 10) / 10;
