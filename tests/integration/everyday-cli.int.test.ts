import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { experimentSchema } from "../../src/experiments/schema.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { CLI, runCli } from "../support/cli.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// doctor, init (asked in a real terminal), and the run's progress: redrawn in place in a
// terminal (tmux), one plain line per event when the output is not a terminal.

const NAME = "it-everyday";

const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
const screen = (session: string) => tmux("capture-pane", "-p", "-t", session);

async function inTmux<T>(command: string, use: (session: string) => Promise<T>): Promise<T> {
  const session = `faultline-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "80", command);
  try {
    return await use(session);
  } finally {
    tmux("kill-session", "-t", session);
  }
}

const waitForScreen = (session: string, text: string | RegExp, timeoutMs = 30_000) =>
  waitUntil(
    async () => {
      const shown = screen(session);
      const found = typeof text === "string" ? shown.includes(text) : text.test(shown);
      return found ? { done: true, value: shown } : { done: false, reason: shown };
    },
    { description: `${String(text)} on the terminal`, timeoutMs, intervalMs: 200 },
  );

const shortExperiment = `version: 1
name: live-view
load: { rate: 20/s, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 2s
  recover: 2s
  verify: 2s
  checks:
    - { name: errors under 5%, metric: errors.rate, below: 5% }
    - { name: p99 under 100ms, metric: latency.p99, below: 100ms }
method:
  - { fault: latency, target: edge-1, latency: 150ms, for: 6s }
`;

describe("the everyday CLI", () => {
  useReplica(NAME);
  const dir = tempDir("faultline-everyday-");
  const experiment = join(dir, "live.yaml");
  writeFileSync(experiment, shortExperiment);

  it("doctor: ready on this machine; a missing engine and load generator are named with their fix", async () => {
    const good = await runCli(["doctor", "--json", "--runs-dir", join(dir, "runs")]);
    const report = JSON.parse(good.stdout) as {
      ok: boolean;
      findings: { check: string; status: string; detail: string; fix?: string }[];
    };
    const bad = await runCli(["doctor", "--runs-dir", join(dir, "runs")], {
      DOCKER_HOST: `unix://${join(dir, "no-engine.sock")}`,
      FAULTLINE_LOADGEN: join(dir, "no-loadgen"),
    });
    console.log(
      `[doctor] ${report.findings.map((f) => `${f.status} ${f.check}: ${f.detail}`).join("\n[doctor] ")}\n[doctor] broken machine (exit ${bad.code}):\n${bad.stdout}`,
    );
    expect(good.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.findings.map((f) => f.check)).toEqual(
      expect.arrayContaining([
        "docker engine",
        "replica images",
        "load generator",
        "netem",
        "loopback ports",
      ]),
    );
    expect(report.findings.find((f) => f.check === "docker engine")?.detail).toMatch(/API 1\.\d+/);
    expect(bad.code).toBe(4);
    expect(bad.stdout).toMatch(/✗ docker engine\s+no engine answers at unix:\/\/.*no-engine\.sock/);
    expect(bad.stdout).toMatch(
      /✗ load generator\s+the load generator \(vegeta.s faultline-load\) is not available/,
    );
    expect(bad.stdout).toContain("fix: run scripts/setup.sh");
  });

  it("init asks in a terminal and writes a valid experiment", async () => {
    const file = join(dir, "asked.yaml");
    await inTmux(`node ${CLI} init ${file}; echo "EXIT=$?"; sleep 60`, async (session) => {
      await waitForScreen(session, "Experiment name");
      tmux("send-keys", "-t", session, "C-u", "tmux-asked", "Enter");
      await waitForScreen(session, "Fault");
      tmux("send-keys", "-t", session, "Down", "Enter");
      await waitForScreen(session, "Target");
      tmux("send-keys", "-t", session, "Enter");
      await waitForScreen(session, "Load rate");
      tmux("send-keys", "-t", session, "C-u", "50/s", "Enter");
      await waitForScreen(session, "Fault duration");
      tmux("send-keys", "-t", session, "Enter");
      const shown = await waitForScreen(session, "EXIT=");
      console.log(`[init] the terminal after answering:\n${shown.trim()}`);
      expect(shown).toContain("EXIT=0");
    });
    expect(existsSync(file)).toBe(true);
    const written = parseYamlWithSchema(file, readFileSync(file, "utf8"), experimentSchema);
    expect(written.name).toBe("tmux-asked");
    expect(written.method[0]?.fault).toBe("bandwidth");
    expect(written.load.rate).toBe(50);
    expect((await runCli(["init", file, "--yes"])).code).toBe(2);
  });

  it("a run in a terminal redraws one live view: phase, time left, active fault, check values", async () => {
    const runsDir = join(dir, "runs-live");
    await inTmux(
      `node ${CLI} run ${experiment} --replica ${NAME} --runs-dir ${runsDir}; echo "EXIT=$?"; sleep 60`,
      async (session) => {
        const during = await waitForScreen(session, "(0:0", 60_000);
        const withChecks = await waitForScreen(session, /✗ p99 under 100ms\s+1\d\dms\s+inject/, 60_000);
        const end = await waitForScreen(session, "EXIT=", 90_000);
        console.log(
          `[live] while the fault is on:\n${during.trim()}\n[live] a little later:\n${withChecks.trim()}\n[live] at the end:\n${end.trim()}`,
        );
        expect(during).toMatch(/phase (inject|baseline)\s+[█░]+\s+\d:\d\d elapsed · about \d:\d\d left/);
        expect(during).toMatch(/f1 latency 150ms on link edge-1 \(downstream\)\s+\(0:0\d left\)/);
        expect(withChecks).toMatch(/✓ errors under 5%\s+\d+\.\d%\s+inject/);
        // Redrawn in place: the header is on the screen once, not once per event.
        expect(end.match(/faultline ▸ live-view/g)?.length).toBe(1);
        expect(end).toMatch(/verdict: (DEGRADED|FAILED)/);
      },
    );
  });

  it("a run whose output is not a terminal prints one plain line per event", async () => {
    const result = await runCli([
      "run",
      experiment,
      "--replica",
      NAME,
      "--runs-dir",
      join(dir, "runs-plain"),
    ]);
    const lines = result.stderr.split("\n");
    console.log(
      `[plain] ${lines.length} lines on stderr, e.g.:\n${lines.filter((l) => /phase|applied|reverted/.test(l)).join("\n")}`,
    );
    expect(result.stderr).not.toContain("\u001b[");
    expect(lines.some((l) => /^\s+\d+s {2}phase inject$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\s+\d+s {2}applied {2}f1$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\s+\d+s {2}inject {3}window \d+-\d+s/.test(l))).toBe(true);
    expect(result.stdout).toMatch(/verdict: (DEGRADED|FAILED)/);
  });
});
