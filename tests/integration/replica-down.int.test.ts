import { describe, expect, it } from "vitest";
import { readLedger, writeIntent } from "../../src/lifecycle/ledger.js";
import { replicaDown, replicaUp } from "../../src/replica/replica.js";

// `replica down` removes every container, and with them every fault: a crashed run's ledger
// entries describe nothing any more and must not make the next replica of the name refuse.

const NAME = "it-down";

describe("replica down", () => {
  it("clears the ledger a crashed run left, since its faults went with the containers", async () => {
    await replicaUp({ replica: NAME, edges: 1 });
    writeIntent({
      runId: "crashed-run",
      faultId: "f1",
      replica: NAME,
      kind: "latency",
      service: "edge-1",
      description: "latency 100ms on link edge-1",
      params: {},
      intentAt: new Date().toISOString(),
      revertBy: Date.now(),
      // No such process: the run that wrote it is gone.
      pid: 2 ** 22 + 1,
    });
    expect(readLedger(NAME).entries).toHaveLength(1);
    const down = await replicaDown(NAME);
    console.log(
      `[replica down] removed ${down.containers.length} containers; ledger after: ${readLedger(NAME).entries.length}`,
    );
    expect(readLedger(NAME).entries).toEqual([]);
  });
});
