import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readLedger } from "../../src/lifecycle/ledger.js";
import { type CliResult, runCli } from "../support/cli.js";
import { leftovers } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// Every file of the bad-input corpus (tests/corpus/bad-input) through `faultline run`: exit 2,
// the error located (file:line:column) on stderr, no stack trace, nothing on stdout, and
// nothing created or injected: no container, network, ledger entry or run folder.

const REPLICA = "it-corpus-never";

describe("the bad-input corpus through the CLI", () => {
  it("every file: exit 2, a located error, no stack trace, nothing started", async () => {
    const corpus = "tests/corpus/bad-input";
    const files = readdirSync(corpus)
      .filter((f) => f.endsWith(".yaml"))
      .sort()
      .map((f) => join(corpus, f));
    const runsDir = join(tempDir("faultline-corpus-"), "runs");
    const results: { file: string; result: CliResult }[] = [];
    // A few CLIs at a time: each is a Node start-up and a parse.
    for (let i = 0; i < files.length; i += 6) {
      const batch = files.slice(i, i + 6);
      results.push(
        ...(await Promise.all(
          batch.map(async (file) => ({
            file,
            // A shell that allows host commands must not turn the corpus's host command into a run.
            result: await runCli(["run", file, "--replica", REPLICA, "--runs-dir", runsDir, "--no-history"], {
              FAULTLINE_ALLOW_HOST_COMMANDS: "false",
            }),
          })),
        )),
      );
    }
    const wrong = results.filter(
      ({ file, result }) =>
        result.code !== 2 ||
        !result.stderr.startsWith(`error: ${file}:`) ||
        /\n\s+at /.test(result.stderr) ||
        result.stdout.trim() !== "",
    );
    const sample = results.slice(0, 3).map(({ result }) => result.stderr.split("\n")[0]);
    console.log(
      `[corpus] ${results.length} malformed files through \`faultline run\`: ${results.length - wrong.length} exit 2 with a located error and no stack trace; e.g.\n  ${sample.join("\n  ")}`,
    );
    expect(results.length).toBeGreaterThanOrEqual(90);
    expect(
      wrong.map(({ file, result }) => `${file}: exit ${result.code}: ${result.stderr.slice(0, 300)}`),
    ).toEqual([]);
    expect(await leftovers(REPLICA)).toEqual({ containers: [], networks: [] });
    expect(readLedger(REPLICA).entries).toEqual([]);
    expect(existsSync(runsDir) ? readdirSync(runsDir) : []).toEqual([]);
  }, 300_000);
});
