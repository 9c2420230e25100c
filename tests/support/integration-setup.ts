import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { ensureEngine } from "../../src/replica/docker.js";
import { rawClient } from "../../src/replica/engine.js";
import { imageFor, type Role } from "../../src/replica/topology.js";
import { findTemporalCli } from "../../src/scale/temporal-cli.js";
import { VegetaDriver } from "../../src/steady-state/vegeta.js";
import { TEST_STATE_DIR } from "../../vitest.config.js";

/**
 * Integration tests need the real thing. When it is missing they fail here, loudly, with the
 * command that fixes it: a skipped integration test is not a pass.
 */
export default async function setup(): Promise<() => void> {
  rmSync(TEST_STATE_DIR, { recursive: true, force: true });
  const fix = "run `bash scripts/setup.sh` first (it installs and starts what the tests need)";
  await ensureEngine().catch((error: unknown) => {
    throw new Error(`integration tests need a Docker engine: ${(error as Error).message}; ${fix}`);
  });
  const roles: (Role | "netfilter")[] = ["lb", "edge", "origin", "toxiproxy", "prometheus", "netfilter"];
  for (const role of roles) {
    await rawClient()
      .getImage(imageFor(role))
      .inspect()
      .catch(() => {
        throw new Error(`integration tests need the image ${imageFor(role)}; ${fix}`);
      });
  }
  await new VegetaDriver().version();
  // The HTML report is checked in Debian's Chromium, the terminal view in tmux.
  if (!existsSync("/usr/bin/chromium")) throw new Error(`integration tests need /usr/bin/chromium; ${fix}`);
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
  } catch {
    throw new Error(`integration tests need tmux; ${fix}`);
  }
  // The scale-out tests start Temporal's dev server from the pinned CLI.
  try {
    execFileSync(findTemporalCli(), ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("integration tests need the Temporal CLI; run `bash scripts/setup.sh --temporal` first");
  }
  // The shared-history tests start a PostgreSQL server of their own.
  try {
    execFileSync("pg_ctl", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(`integration tests need PostgreSQL (initdb, pg_ctl); ${fix}`);
  }
  // The attach tests start the example Compose PoP with Debian's docker-compose.
  try {
    execFileSync("docker-compose", ["version"], { stdio: "ignore" });
  } catch {
    throw new Error(`integration tests need docker-compose; ${fix}`);
  }
  // The CLI tests spawn bin/run.js, which runs the compiled output.
  execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  return () => rmSync(TEST_STATE_DIR, { recursive: true, force: true });
}
