import { describe, expect, it } from "vitest";
import { freeLoopbackPort } from "../../src/lifecycle/ports.js";
import { serverHealth } from "../../src/scale/temporal-cli.js";
import { runCli, startCli, waitForOutput } from "../support/cli.js";

// The scale-out engine's set-up on the real Temporal CLI (built by `scripts/setup.sh
// --temporal`): `faultline temporal dev` starts its dev server on 127.0.0.1 and stops it on
// Ctrl-C; `faultline doctor --temporal` says whether a server answers there.

interface DoctorOutput {
  findings: { check: string; status: string; detail: string }[];
}
const temporalFinding = (stdout: string) =>
  (JSON.parse(stdout) as DoctorOutput).findings.find((f) => f.check === "temporal");

describe("a local Temporal dev server", () => {
  it("starts on 127.0.0.1, answers doctor, and is gone after Ctrl-C", async () => {
    const port = await freeLoopbackPort();
    const started = Date.now();
    const cli = startCli(["temporal", "dev", "--port", String(port)]);
    await waitForOutput(cli, "ready on", 60_000);
    const readyMs = Date.now() - started;
    const doctor = await runCli(["doctor", "--temporal", `127.0.0.1:${port}`, "--json"]);
    cli.child.kill("SIGINT");
    const stopped = await cli.result;
    const after = await serverHealth(`127.0.0.1:${port}`, 1000);
    const missing = await runCli(["doctor", "--temporal", "127.0.0.1:1", "--json"]);
    console.log(
      `[temporal-dev] ready in ${readyMs} ms; doctor: ${temporalFinding(doctor.stdout)?.detail}; after Ctrl-C exit ${stopped.code}, server answers: ${after.ok}; no server: ${temporalFinding(missing.stdout)?.detail}`,
    );
    expect(temporalFinding(doctor.stdout)).toMatchObject({ status: "ok" });
    expect(stopped.code).toBe(0);
    expect(after.ok).toBe(false);
    expect(temporalFinding(missing.stdout)).toMatchObject({ status: "fail" });
    expect(temporalFinding(missing.stdout)?.detail).toMatch(
      /no server answers on 127\.0\.0\.1:1: .*connection refused/,
    );
    expect(missing.code).toBe(4);
  });

  it("a port already taken is an environment error that says so", async () => {
    const port = await freeLoopbackPort();
    const first = startCli(["temporal", "dev", "--port", String(port)]);
    await waitForOutput(first, "ready on", 60_000);
    const second = await runCli(["temporal", "dev", "--port", String(port)]);
    first.child.kill("SIGINT");
    await first.result;
    console.log(
      `[temporal-dev] second server on a taken port: exit ${second.code}: ${second.stderr.trim().split("\n")[0]}`,
    );
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use already`));
  });
});
