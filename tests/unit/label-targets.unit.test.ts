import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.js";
import { resolveTarget, seededRandom } from "../../src/experiments/targets.js";
import { type AttachSettings, attachedTopology, attachSchema } from "../../src/replica/attach.js";
import { LABEL_POP, LABEL_ROLE, serviceLabels } from "../../src/replica/docker.js";
import { defaultTopology } from "../../src/replica/topology.js";
import { loadTopology } from "../../src/replica/topology-file.js";

// Label targets match a container's Docker labels: on Faultline's replica the ones it puts on
// the containers it creates (serviceLabels, the same function startService uses), on an
// attached stack the containers' own, as discovery read them.

const byLabels = (labels: Record<string, string>, pick?: number) =>
  ({ kind: "labels", labels, pick, percent: undefined }) as const;

const settings: AttachSettings = attachSchema.parse({
  compose: "shop",
  roles: { lb: ["lb"], edge: ["edge-a", "edge-b", "edge-c"], origin: ["origin"] },
});

function discovered() {
  const labels = (service: string, tier: string) => ({
    "com.docker.compose.project": "shop",
    "com.docker.compose.service": service,
    tier,
  });
  return attachedTopology(settings, {
    containers: { lb: "id-lb", "edge-a": "id-a", "edge-b": "id-b", "edge-c": "id-c", origin: "id-o" },
    labels: {
      lb: labels("lb", "front"),
      "edge-a": labels("edge-a", "canary"),
      "edge-b": labels("edge-b", "edge"),
      "edge-c": labels("edge-c", "edge"),
      origin: labels("origin", "origin"),
    },
    network: "shop_default",
  });
}

describe("label targets", () => {
  it("on Faultline's replica, match the labels its containers carry, PoP included", async () => {
    const twoPops = await loadTopology("topologies/two-pops.yaml");
    const edge = twoPops.services.find((s) => s.role === "edge" && s.name.startsWith("pop-b"));
    expect(edge && serviceLabels(twoPops, edge)[LABEL_POP]).toBe("pop-b");
    const inPopB = resolveTarget(
      byLabels({ [LABEL_POP]: "pop-b", [LABEL_ROLE]: "edge" }),
      twoPops,
      seededRandom(0),
    );
    expect(inPopB.length).toBeGreaterThan(0);
    expect(inPopB.every((s) => s.startsWith("pop-b"))).toBe(true);
    const single = defaultTopology("d", 2);
    expect(
      serviceLabels(single, single.services[0] ?? { name: "", role: "edge", image: "", publish: [] }),
    ).not.toHaveProperty(LABEL_POP);
  });

  it("on an attached stack, match its containers' own labels, Compose's and the user's", () => {
    const topology = discovered();
    expect(resolveTarget(byLabels({ tier: "canary" }), topology, seededRandom(0))).toEqual(["edge-a"]);
    expect(resolveTarget(byLabels({ tier: "edge" }), topology, seededRandom(0))).toEqual([
      "edge-b",
      "edge-c",
    ]);
    expect(
      resolveTarget(byLabels({ "com.docker.compose.service": "origin" }), topology, seededRandom(0)),
    ).toEqual(["origin"]);
    expect(resolveTarget(byLabels({ tier: "edge" }, 1), topology, seededRandom(4))).toHaveLength(1);
    // Faultline's made-up labels are not an attached container's.
    expect(() => resolveTarget(byLabels({ [LABEL_ROLE]: "edge" }), topology, seededRandom(0))).toThrow(
      /no service of replica shop matches labels/,
    );
  });

  it("on an attached stack not yet found, say they resolve against the real containers", () => {
    const error = (() => {
      try {
        resolveTarget(byLabels({ tier: "canary" }), attachedTopology(settings), seededRandom(0));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toMatch(/containers' own, read from Docker/);
  });
});
