import { afterEach, describe, expect, it } from "vitest";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { type ReplicaGuard, type ServiceContainer, startReplicaGuard } from "../../src/run/replica-guard.js";

// The guard against a fake engine: a list of containers the test edits between looks.

const running = (service: string, id = `${service}-id`): ServiceContainer => ({
  service,
  id,
  state: "running",
});

function setup(options: { misses?: number } = {}) {
  let containers: ServiceContainer[] | Error = [running("toxiproxy"), running("lb"), running("edge-1")];
  let looks = 0;
  const excused = new Set<string>();
  const guard = startReplicaGuard({
    list: async () => {
      looks += 1;
      if (containers instanceof Error) throw containers;
      return containers;
    },
    excused: () => excused,
    intervalMs: 5,
    ...options,
  });
  guards.push(guard);
  return {
    guard,
    excused,
    set: (next: ServiceContainer[] | Error) => {
      containers = next;
    },
    /** Waits for `n` more looks. */
    looks: async (n: number) => {
      const target = looks + n;
      await waitUntil(
        async () =>
          looks >= target ? { done: true, value: undefined } : { done: false, reason: `${looks} looks` },
        {
          description: `${n} looks`,
          timeoutMs: 2000,
          intervalMs: 2,
        },
      );
    },
  };
}

const guards: ReplicaGuard[] = [];
afterEach(() => {
  for (const g of guards.splice(0)) g.stop();
});

describe("the replica guard", () => {
  it("stays quiet while the engine answers and every service runs", async () => {
    const { guard, looks } = setup();
    await looks(5);
    expect(guard.problem()).toBeUndefined();
  });

  it("counts the engine lost only after unanswered looks in a row", async () => {
    const { guard, set, looks } = setup({ misses: 3 });
    await looks(2);
    set(new Error("connect ENOENT /var/run/docker.sock"));
    await looks(1);
    set([running("toxiproxy"), running("lb"), running("edge-1")]);
    await looks(2);
    expect(guard.problem()).toBeUndefined();
    set(new Error("connect ENOENT /var/run/docker.sock"));
    await looks(3);
    expect(guard.problem()).toMatch(
      /Docker engine stopped answering \(3 looks in a row failed: connect ENOENT/,
    );
  });

  it("excuses a service a fault of the run has stopped or paused", async () => {
    const { guard, set, excused, looks } = setup();
    await looks(1);
    excused.add("edge-1");
    set([running("toxiproxy"), running("lb"), { service: "edge-1", id: "edge-1-id", state: "paused" }]);
    await looks(3);
    expect(guard.problem()).toBeUndefined();
  });

  it("names every service that stopped, vanished or was recreated outside the run", async () => {
    const { guard, set, looks } = setup();
    await looks(1);
    set([{ service: "toxiproxy", id: "toxiproxy-id", state: "exited" }, running("lb", "another-id")]);
    await looks(1);
    expect(guard.problem()).toBe(
      "the replica changed outside this run: toxiproxy is exited, lb was recreated, edge-1 was removed (did the Docker engine restart?)",
    );
  });
});
