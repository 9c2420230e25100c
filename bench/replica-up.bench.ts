import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { parseHaproxyCsv, replicaDown, replicaUp } from "../src/replica/replica.js";
import { defaultTopology } from "../src/replica/topology.js";
import { composeProject } from "./compose-file.js";
import { ms, record, summarize } from "./support.js";

const run = promisify(execFile);

// Replica up and down, faultline against docker-compose (Debian's docker-compose 1.29)
// bringing up the same PoP from bench/compose/. Both count as up when HAProxy reports every
// edge UP. Paired runs in one invocation, alternating which goes first; the ratio is
// faultline's median over compose's. Target: faultline up at most 0.5x compose.

const DIR = "bench/compose";
const PROJECT = "faultline-bench-compose";
const PAIRS = 5;
const sleep = (n: number) => new Promise((resolve) => setTimeout(resolve, n));

function composeFiles(): void {
  const { compose, proxies } = composeProject(defaultTopology("compose"));
  const files = { "docker-compose.yml": compose, "toxiproxy.json": proxies };
  const stale = Object.entries(files).filter(
    ([name, text]) => !existsSync(join(DIR, name)) || readFileSync(join(DIR, name), "utf8") !== text,
  );
  for (const [name, text] of stale) writeFileSync(join(DIR, name), text);
  if (stale.length)
    console.log(`[bench] rewrote ${stale.map(([n]) => join(DIR, n)).join(", ")}: commit them`);
}

async function compose(...args: string[]): Promise<string> {
  const { stdout } = await run("docker-compose", [
    "-p",
    PROJECT,
    "-f",
    join(DIR, "docker-compose.yml"),
    ...args,
  ]);
  return stdout;
}

async function composeUp(): Promise<number> {
  const started = performance.now();
  await compose("up", "-d", "--quiet-pull");
  const port = (await compose("port", "lb", "8405")).trim().split(":").pop();
  for (;;) {
    try {
      const csv = await (await fetch(`http://127.0.0.1:${port}/stats;csv;norefresh`)).text();
      const states = parseHaproxyCsv(csv, ["edge-1", "edge-2", "edge-3"]);
      if ([...states.values()].filter((s) => s === "up").length === 3) break;
    } catch {
      // HAProxy is not listening yet.
    }
    await sleep(100);
  }
  return performance.now() - started;
}

async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

it("faultline replica up/down against docker-compose up/down, paired", async () => {
  try {
    await run("docker-compose", ["version"]);
  } catch {
    throw new Error("docker-compose is not installed: apt-get install docker-compose (Debian's 1.29)");
  }
  composeFiles();
  const ours = { up: [] as number[], down: [] as number[] };
  const theirs = { up: [] as number[], down: [] as number[] };
  try {
    for (let pair = 0; pair < PAIRS; pair++) {
      const order = pair % 2 === 0 ? ["faultline", "compose"] : ["compose", "faultline"];
      for (const who of order) {
        if (who === "faultline") {
          ours.up.push(await timed(() => replicaUp({ replica: "bench-up" })));
          ours.down.push(await timed(() => replicaDown("bench-up")));
        } else {
          theirs.up.push(await composeUp());
          theirs.down.push(await timed(() => compose("down", "-v", "--timeout", "1")));
        }
      }
    }
  } finally {
    await replicaDown("bench-up").catch(() => {});
    await compose("down", "-v", "--timeout", "1").catch(() => "");
  }
  expect(ours.up).toHaveLength(PAIRS);
  const s = (values: number[]) => summarize(values);
  record("replica-up", {
    pairs: PAIRS,
    faultlineUpMedianMs: ms(s(ours.up).median),
    composeUpMedianMs: ms(s(theirs.up).median),
    upRatio: ms(s(ours.up).median / s(theirs.up).median),
    faultlineDownMedianMs: ms(s(ours.down).median),
    composeDownMedianMs: ms(s(theirs.down).median),
    downRatio: ms(s(ours.down).median / s(theirs.down).median),
    faultlineUpMs: ours.up.map(ms),
    composeUpMs: theirs.up.map(ms),
    targetUpRatio: 0.5,
  });
});
