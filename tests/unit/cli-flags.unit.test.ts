import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "@oclif/core";
import { describe, expect, it } from "vitest";
import { durationFlag, replicaFlag, replicaOverrideFlag, runsDirFlag } from "../../src/cli/flags.js";

const parse = (argv: string[]) =>
  Parser.parse(argv, {
    flags: {
      for: durationFlag({ description: "how long", required: true }),
      replica: replicaFlag(),
      override: replicaOverrideFlag("an override"),
      "runs-dir": runsDirFlag("where runs are"),
    },
  });

describe("the shared CLI flags", () => {
  it("parse a duration as experiment files do, keeping its text", async () => {
    const { flags } = await parse(["--for", "1.5m"]);
    expect(flags.for).toEqual({ text: "1.5m", ms: 90_000 });
    expect((await parse(["--for", "250ms"])).flags.for.ms).toBe(250);
  });

  it("keep a text that is not a duration, for the command to refuse by flag name", async () => {
    expect((await parse(["--for", "soon"])).flags.for).toEqual({ text: "soon", ms: undefined });
  });

  it("default --replica to default and --runs-dir to runs; an override has no default", async () => {
    const { flags } = await parse(["--for", "1s"]);
    expect(flags.replica).toBe("default");
    expect(flags["runs-dir"]).toBe("runs");
    expect(flags.override).toBeUndefined();
  });

  it("are the only declarations of --replica, --runs-dir and --for in the commands", () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? files(path) : [path];
      });
    const own = files(join(import.meta.dirname, "../../src/commands")).filter((file) =>
      /(^|\s)(replica|"runs-dir"|for): Flags\./m.test(readFileSync(file, "utf8")),
    );
    expect(own).toEqual([]);
  });
});
