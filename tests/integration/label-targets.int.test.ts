import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABEL_ATTACH } from "../../src/replica/attach.js";
import { rawClient } from "../../src/replica/engine.js";
import { imageFor } from "../../src/replica/topology.js";
import { runCli } from "../support/cli.js";
import { tempDir } from "../support/temp.js";

// Label targets on a stack Faultline did not create: containers opted in with
// faultline.attach=<name>, carrying labels of their owner's (tier=...). A target by labels
// picks exactly the containers whose real Docker labels match, whatever Faultline knows of
// their roles; `faultline plan` reads them from Docker.

const STACK = "it-labels";
const NETWORK = `${STACK}-net`;
const MEMBERS = [
  { name: "lb", tier: "front", publish: true },
  { name: "edge-a", tier: "canary" },
  { name: "edge-b", tier: "edge" },
  { name: "edge-c", tier: "edge" },
] as const;
const created: string[] = [];

async function startMember(member: (typeof MEMBERS)[number]): Promise<void> {
  const container = await rawClient().createContainer({
    name: `${STACK}-${member.name}`,
    Image: imageFor("origin"),
    Labels: { [LABEL_ATTACH]: STACK, tier: member.tier },
    ExposedPorts: { "80/tcp": {} },
    HostConfig: {
      NetworkMode: NETWORK,
      PortBindings: "publish" in member ? { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } : {},
    },
  });
  created.push(container.id);
  await container.start();
}

function experiment(target: string): string {
  const file = join(tempDir("faultline-labels-"), "labels.yaml");
  writeFileSync(
    file,
    `version: 1
name: by-labels
replica:
  attach:
    label: ${STACK}
    roles: { lb: [${STACK}-lb], edge: [${STACK}-edge-a, ${STACK}-edge-b, ${STACK}-edge-c] }
load: { rate: 10/s, warmup: 1s }
steadyState: { window: 2s, baseline: 2s, recover: 2s, verify: 2s, checks: [{ metric: errors.rate, below: 100% }] }
method:
  - { fault: node-kill, mode: pause, target: ${target}, for: 3s }
`,
  );
  return file;
}

describe("label targets on an attached stack", () => {
  beforeAll(async () => {
    await rawClient().createNetwork({ Name: NETWORK });
    for (const member of MEMBERS) await startMember(member);
  });
  afterAll(async () => {
    for (const id of created) await rawClient().getContainer(id).remove({ force: true });
    await rawClient().getNetwork(NETWORK).remove();
  });

  it("resolve against the containers' own labels, read from Docker", async () => {
    const canary = await runCli(["plan", experiment("{ labels: { tier: canary } }"), "--json"]);
    const edges = await runCli(["plan", experiment("{ labels: { tier: edge } }"), "--json"]);
    const faultlines = await runCli(["plan", experiment("{ labels: { faultline.role: edge } }")]);
    const services = (out: string) =>
      (JSON.parse(out) as { faults: { actions: { service: string }[] } }).faults.actions.map(
        (a) => a.service,
      );
    console.log(
      `[labels] tier=canary -> ${services(canary.stdout).join(", ")}; tier=edge -> ${services(edges.stdout).join(", ")}; faultline.role=edge -> exit ${faultlines.code}: ${faultlines.stderr.trim().split("\n")[0]}`,
    );
    expect(services(canary.stdout)).toEqual([`${STACK}-edge-a`]);
    expect(services(edges.stdout)).toEqual([`${STACK}-edge-b`, `${STACK}-edge-c`]);
    // Labels Faultline would put on its own containers are not these containers' labels.
    expect(faultlines.code).toBe(2);
    expect(faultlines.stderr).toMatch(/no service of replica it-labels matches labels/);
    // Plan touched nothing: every member is still running, unpaused.
    for (const id of created) {
      const state = (await rawClient().getContainer(id).inspect()).State;
      expect(state.Running && !state.Paused).toBe(true);
    }
  });

  it("a run pauses exactly the container whose labels match, and leaves it running", async () => {
    const paused: string[] = [];
    const watch = setInterval(async () => {
      for (const id of created) {
        const state = await rawClient()
          .getContainer(id)
          .inspect()
          .then((i) => i.State)
          .catch(() => undefined);
        if (state?.Paused && !paused.includes(id)) paused.push(id);
      }
    }, 200);
    const result = await runCli([
      "run",
      experiment("{ labels: { tier: canary } }"),
      "--runs-dir",
      tempDir("faultline-labels-runs-"),
      "--no-history",
      "--json",
    ]).finally(() => clearInterval(watch));
    const names = await Promise.all(
      paused.map(async (id) => (await rawClient().getContainer(id).inspect()).Name.replace(/^\//, "")),
    );
    console.log(
      `[labels] run by { tier: canary }: exit ${result.code}; paused during the run: ${names.join(", ")}`,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(names).toEqual([`${STACK}-edge-a`]);
    for (const id of created) {
      const state = (await rawClient().getContainer(id).inspect()).State;
      expect(state.Running && !state.Paused).toBe(true);
    }
  });
});
