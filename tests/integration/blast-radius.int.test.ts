import { describe, expect, it } from "vitest";
import { rawClient } from "../../src/replica/engine.js";
import { replicaDown } from "../../src/replica/replica.js";
import { imageFor } from "../../src/replica/topology.js";
import { runCli } from "../support/cli.js";
import { leftovers, useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

const NAME = "it-blast";
/** Journals of the CLI runs go to a temporary folder, not the checkout. */
const RUNS = tempDir("faultline-runs-");
const DECOY = `faultline-${NAME}-edge-9`;

describe("blast radius", () => {
  const replica = useReplica(NAME);

  it("never touches a container without the replica's label, even one named and networked like an edge", async () => {
    const client = rawClient();
    const decoy = await client.createContainer({
      name: DECOY,
      Image: imageFor("origin"),
      HostConfig: { NetworkMode: replica().topology.network },
      NetworkingConfig: { EndpointsConfig: { [replica().topology.network]: { Aliases: ["edge-9"] } } },
    });
    try {
      await decoy.start();
      const before = await decoy.inspect();

      const kill = await runCli([
        "inject",
        "node-kill",
        "--role",
        "edge",
        "--pick",
        "2",
        "--for",
        "2s",
        "--replica",
        NAME,
        "--runs-dir",
        RUNS,
      ]);
      const targets = await runCli([
        "inject",
        "latency",
        "--target",
        "edge-9",
        "--for",
        "1s",
        "--set",
        "latency=5ms",
        "--replica",
        NAME,
        "--runs-dir",
        RUNS,
      ]);
      const recover = await runCli(["recover", "--replica", NAME]);
      const down = await replicaDown(NAME);
      const after = await decoy.inspect();
      console.log(
        `[blast radius] inject node-kill exit ${kill.code}, inject on edge-9 exit ${targets.code} (${targets.stderr.trim().split("\n")[0]}), recover exit ${recover.code}, down removed ${down.containers.length} containers and kept ${down.kept.join(", ") || "nothing"}; decoy running ${after.State.Running}, restarted ${after.State.StartedAt !== before.State.StartedAt}`,
      );
      expect(kill.code).toBe(0);
      expect(targets.code).toBe(2);
      expect(targets.stderr).toMatch(/no service "edge-9"/);
      expect(recover.code).toBe(0);
      expect(after.State.Running).toBe(true);
      expect(after.State.Paused).toBe(false);
      expect(after.State.StartedAt).toBe(before.State.StartedAt);
      expect(Object.keys(after.NetworkSettings.Networks)).toEqual([replica().topology.network]);
      expect(down.kept).toHaveLength(1);
      expect((await leftovers(NAME)).containers).toEqual([]);
    } finally {
      await decoy.remove({ force: true });
      await replicaDown(NAME);
    }
  });
});
