import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sweepNamespace } from "../../src/injectors/netfilter.js";
import { readLedger } from "../../src/lifecycle/ledger.js";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { findLeftovers } from "../../src/recovery/recover.js";
import { rawClient } from "../../src/replica/engine.js";
import { imageFor } from "../../src/replica/topology.js";
import { runCli, startCli, waitForOutput } from "../support/cli.js";
import { restartEngine } from "../support/engine.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// The reliability harness: each kind of interruption, repeated. A CI-sized run (`npm test`)
// does FAULTLINE_TRIALS=2 of each; the long run is `npm run reliability -- --trials 50`.
// Every trial starts a run with faults of six families applied at once (a toxic, a paused
// edge, a netfilter loss rule, an HTTP fault by route in the load balancer, a flawed
// certificate at the load balancer, a DNS rule), on a replica that serves HTTPS and has its
// own DNS, interrupts it at a random moment of its inject phase, and checks that nothing is
// left on the replica. An unlabelled decoy container on the replica's network, named and
// aliased like an edge, must come through every trial untouched.
// The Docker engine's restart has a replica (and a decoy) of its own, last: it stops every
// container on the machine.

const NAME = "it-reliability";
const ENGINE_NAME = "it-rel-engine";
const TRIALS = Math.max(1, Number(process.env.FAULTLINE_TRIALS ?? "2"));
const TOPOLOGY = "tests/topologies/conformance.yaml";
const PROTOCOL_FAULTS = `
  - { fault: tls-certificate, target: lb, flaw: expired, for: 60s }
  - { fault: dns-nxdomain, target: edge-3, name: origin.faultline.test, for: 60s }`;

/** The harness's experiment: four fault families, and with `protocols` the TLS and DNS ones too. */
function experimentFile(protocols = true): string {
  const file = join(tempDir("faultline-rel-"), "rel.yaml");
  writeFileSync(
    file,
    `version: 1
name: it-reliability
load: { rate: 20/s, warmup: 1s, timeout: 1s }
steadyState:
  window: 2s
  baseline: 2s
  checks: [{ metric: errors.rate, below: 100% }]
method:
  - { fault: latency, target: edge-1, latency: 100ms, for: 60s }
  - { fault: node-kill, target: edge-2, mode: pause, for: 60s }
  - { fault: packet-loss, target: origin, loss: 10%, for: 60s }
  - { fault: http-route, target: lb, match: { path: "/api/*" }, share: 20%, status: 503, for: 60s }${protocols ? PROTOCOL_FAULTS : ""}
`,
  );
  return file;
}

const randomDelay = () => Math.floor(Math.random() * 3000);
const sleep = (n: number) => new Promise((resolve) => setTimeout(resolve, n));

/** The harness's replica runs on the conformance topology; the engine trials' on the built-in PoP. */
const targetArgs = (replica: string) =>
  replica === NAME ? ["--topology", TOPOLOGY, "--replica", replica] : ["--replica", replica];

async function startInjecting(env: NodeJS.ProcessEnv = {}, replica = NAME) {
  const protocols = replica === NAME;
  const cli = startCli(
    ["run", experimentFile(protocols), ...targetArgs(replica), "--runs-dir", tempDir("runs-")],
    env,
  );
  await waitForOutput(cli, protocols ? "applied  f6" : "applied  f4", 60_000);
  // A random moment of the inject phase, after every fault is in place.
  await sleep(randomDelay());
  return cli;
}

describe(`the reliability harness (${TRIALS} trial(s) of each kind)`, () => {
  const replica = useReplica(NAME, { topologyFile: TOPOLOGY });
  const tally: Record<string, number[]> = {};
  const note = (kind: string, ms: number) => {
    tally[kind] ??= [];
    tally[kind].push(ms);
  };
  let decoyId = "";
  let decoyStartedAt = "";

  afterAll(async () => {
    const lines = Object.entries(tally).map(
      ([kind, times]) => `${kind}: ${times.length} trials, worst ${Math.max(...times)} ms`,
    );
    console.log(`[reliability] ${lines.join("; ")}`);
    if (decoyId) await rawClient().getContainer(decoyId).remove({ force: true });
  });

  it("places a decoy: an unlabelled container on the replica's network, aliased like an edge", async () => {
    const network = replica().topology.network;
    const decoy = await rawClient().createContainer({
      name: "faultline-it-reliability-decoy",
      Image: imageFor("origin"),
      HostConfig: { NetworkMode: network },
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: ["edge-9"] } } },
    });
    await decoy.start();
    const info = await decoy.inspect();
    decoyId = info.Id;
    decoyStartedAt = info.State.StartedAt;
    expect(info.State.Running).toBe(true);
  });

  it.each(Array.from({ length: TRIALS }, (_, i) => i + 1))(
    "trial %i: SIGKILL at a random moment of inject, then recover: nothing left",
    async () => {
      const cli = await startInjecting({ FAULTLINE_WATCHDOG: "0" });
      cli.child.kill("SIGKILL");
      await cli.result;
      // Five ledger entries, the toxic, the paused edge, the sidecar, the certificate, the DNS rule.
      expect((await findLeftovers(replica())).length).toBeGreaterThanOrEqual(9);
      const started = Date.now();
      const recovery = await runCli(["recover", "--replica", NAME]);
      note("sigkill+recover", Date.now() - started);
      expect(recovery.code).toBe(0);
      expect(await findLeftovers(replica())).toEqual([]);
      expect(readLedger(NAME).entries).toEqual([]);
      expect(await sweepNamespace(replica(), "origin")).toEqual([]);
    },
  );

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it.each(Array.from({ length: TRIALS }, (_, i) => i + 1))(
      `trial %i: ${signal} at a random moment of inject: full rollback within 5 s`,
      async () => {
        const cli = await startInjecting();
        const sent = Date.now();
        cli.child.kill(signal);
        const result = await cli.result;
        const tookMs = Date.now() - sent;
        note(signal, tookMs);
        expect(result.code).toBe(130);
        expect(await findLeftovers(replica())).toEqual([]);
        expect(tookMs).toBeLessThan(5000);
      },
    );
  }

  it.each(Array.from({ length: TRIALS }, (_, i) => i + 1))(
    "trial %i: SIGKILL and nobody runs recover: the dead-man's switch reverts everything",
    async () => {
      const cli = await startInjecting();
      const killedAt = Date.now();
      cli.child.kill("SIGKILL");
      await cli.result;
      await waitUntil(
        async () => {
          const left = await findLeftovers(replica());
          return left.length === 0
            ? { done: true, value: undefined }
            : { done: false, reason: left.join("; ") };
        },
        { description: "the watchdog to revert every fault", timeoutMs: 30_000, intervalMs: 200 },
      );
      const tookMs = Date.now() - killedAt;
      note("watchdog", tookMs);
      // The dead-man's promise: within the fault's planned end plus 10 s; it acts on the CLI's death.
      expect(tookMs).toBeLessThan(20_000);
      expect(await sweepNamespace(replica(), "origin")).toEqual([]);
    },
  );

  it.each(Array.from({ length: TRIALS }, (_, i) => i + 1))(
    "trial %i: a second run on the same replica is refused while the first holds it",
    async () => {
      const first = await startInjecting();
      const second = await runCli(["run", experimentFile(), ...targetArgs(NAME)]);
      first.child.kill("SIGINT");
      const firstResult = await first.result;
      note("concurrent", 0);
      expect(second.code).toBe(4);
      expect(second.stderr).toMatch(/is in use by run/);
      expect(firstResult.code).toBe(130);
      expect(await findLeftovers(replica())).toEqual([]);
    },
  );

  it("the decoy came through every trial untouched", async () => {
    const after = await rawClient().getContainer(decoyId).inspect();
    expect(after.State.Running).toBe(true);
    expect(after.State.StartedAt).toBe(decoyStartedAt);
  });
});

// Restarting the engine stops every container on it. On a machine whose engine is not
// Faultline's own (systemd, Docker Desktop) the trial fails and says so; there,
// FAULTLINE_SKIP_ENGINE_RESTART=1 leaves it out. CI never sets it.
const engineDescribe = process.env.FAULTLINE_SKIP_ENGINE_RESTART === "1" ? describe.skip : describe;

engineDescribe(`the Docker engine restarted mid-run (${TRIALS} trial(s))`, () => {
  const replica = useReplica(ENGINE_NAME);
  const figures: string[] = [];
  let decoy: { id: string; startedAt: string } | undefined;

  afterAll(async () => {
    console.log(`[reliability] engine restarts: ${figures.join("; ")}`);
    if (decoy) await rawClient().getContainer(decoy.id).remove({ force: true });
  });

  it("places a decoy on the replica's network", async () => {
    const network = replica().topology.network;
    const container = await rawClient().createContainer({
      name: `faultline-${ENGINE_NAME}-decoy`,
      Image: imageFor("origin"),
      HostConfig: { NetworkMode: network },
    });
    await container.start();
    decoy = { id: container.id, startedAt: (await container.inspect()).State.StartedAt };
  });

  it.each(Array.from({ length: TRIALS }, (_, i) => i + 1))(
    "trial %i: the run ends errored, the ledger keeps what it could not revert, recover brings the replica back",
    async () => {
      const cli = await startInjecting({}, ENGINE_NAME);
      const engine = await restartEngine();
      const result = await cli.result;
      const output = result.stdout + result.stderr;
      expect(result.code, output).toBe(4);
      expect(output).toMatch(/verdict: ERRORED/);
      expect(output).toMatch(/Docker engine stopped answering|replica changed outside this run/);

      // The ledger is intact: readable, and it holds exactly what the journal does not show reverted.
      const journalPath = /journal: (\S+)/.exec(output)?.[1] ?? "";
      const events = readFileSync(journalPath, "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { type: string; id?: string });
      const ids = (type: string) => events.filter((e) => e.type === type).map((e) => e.id ?? "");
      const unreverted = ids("fault-applied").filter((id) => !ids("fault-reverted").includes(id));
      const ledger = readLedger(ENGINE_NAME);
      expect(ledger.unreadable).toEqual([]);
      expect(unreverted.length).toBeGreaterThan(0);
      expect(ledger.entries.map((e) => e.faultId).sort()).toEqual(unreverted.sort());
      expect(output).toMatch(/stay in the fault ledger/);

      const started = Date.now();
      const recovery = await runCli(["recover", "--replica", ENGINE_NAME]);
      const recoverMs = Date.now() - started;
      expect(recovery.code, recovery.stdout + recovery.stderr).toBe(0);
      expect(recovery.stdout).toMatch(/started toxiproxy/);
      expect(readLedger(ENGINE_NAME).entries).toEqual([]);
      expect(await findLeftovers(replica())).toEqual([]);
      // Serving again: `replica up` reuses it once every edge is healthy.
      const up = await runCli(["replica", "up", "--replica", ENGINE_NAME]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
      expect(up.stdout + up.stderr).toMatch(/already up/);
      figures.push(
        `engine down ${engine.stopMs} ms + up ${engine.startMs} ms, ledger kept ${unreverted.join(",")}, recover ${recoverMs} ms`,
      );
    },
  );

  it("the decoy, stopped by the engine, was never started again by Faultline", async () => {
    const after = await rawClient()
      .getContainer(decoy?.id ?? "")
      .inspect();
    expect(after.State.Running).toBe(false);
    expect(after.State.StartedAt).toBe(decoy?.startedAt);
  });
});
