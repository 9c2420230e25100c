import { describe, expect, it } from "vitest";
import { ToxiproxyApi } from "../../src/injectors/toxiproxy.js";
import { ms, pct, runShort } from "../support/experiment.js";
import { useReplica } from "../support/replica.js";

const BLOB_BYTES = 262_144;

describe("Toxiproxy faults on the real replica", () => {
  const replica = useReplica("it-toxics");

  it("bandwidth caps the throughput of responses through the link", async () => {
    const run = await runShort(
      replica(),
      "  - { fault: bandwidth, target: edge-1, rate: 100KB/s, for: 12s }",
      {
        rate: "6/s",
        path: "/blob-256k.bin",
        timeout: "10s",
      },
    );
    const before = run.stats("baseline", "edge-1").latency?.p50 ?? Number.NaN;
    const during = run.stats("inject", "edge-1").latency?.p50 ?? Number.NaN;
    const after = run.stats("verify", "edge-1").latency?.p50 ?? Number.NaN;
    const throughput = BLOB_BYTES / (during / 1000);
    console.log(
      `[bandwidth] 256 KiB via edge-1: ${ms(before)} before, ${ms(during)} under 100KB/s (${(throughput / 1000).toFixed(1)} KB/s measured, ${((throughput / 100_000 - 1) * 100).toFixed(1)}%), ${ms(after)} after`,
    );
    expect(throughput).toBeGreaterThan(100_000 * 0.85);
    expect(throughput).toBeLessThan(100_000 * 1.15);
    expect(after).toBeLessThan(500);
  });

  it("timeout (black hole) on an edge link: HAProxy marks the edge down and traffic moves to the others", async () => {
    const run = await runShort(replica(), "  - { fault: timeout, target: edge-2, for: 10s }", {
      rate: "40/s",
    });
    const inject = run.stats("inject");
    const edge2 = run.stats("inject", "edge-2").count;
    const verify = run.stats("verify");
    console.log(
      `[timeout] inject: ${inject.count} requests, errors ${pct(inject.errorRate)}, served by edge-2: ${edge2} (vs ${run.stats("baseline", "edge-2").count} in a 3 s baseline); verify errors ${pct(verify.errorRate)}`,
    );
    // Requests caught on the black-holed link before HAProxy marked it down time out (2 s);
    // afterwards edge-2 serves nothing while the fault lasts.
    expect(inject.errors).toBeGreaterThan(0);
    expect(inject.errorRate ?? 1).toBeLessThan(0.34);
    expect(verify.errorRate).toBe(0);
    expect(await new ToxiproxyApi(replica().endpoints.toxiproxy).faultlineToxics()).toEqual([]);
  });

  it("reset on an edge link: connections are reset; clients see errors unless retried", async () => {
    const run = await runShort(replica(), "  - { fault: reset, target: edge-3, for: 8s }", { rate: "40/s" });
    const inject = run.stats("inject");
    const verify = run.stats("verify");
    console.log(
      `[reset] inject: ${inject.count} requests, errors ${pct(inject.errorRate)} (${inject.errors}), statuses ${JSON.stringify(
        run.events
          .filter((e) => e.type === "metrics")
          .reduce<Record<string, number>>((acc, e) => {
            if (e.type === "metrics")
              for (const [k, v] of Object.entries(e.all.statuses)) acc[k] = (acc[k] ?? 0) + v;
            return acc;
          }, {}),
      )}; verify errors ${pct(verify.errorRate)}`,
    );
    const share = (phase: "baseline" | "inject") => run.stats(phase, "edge-3").count / run.stats(phase).count;
    console.log(
      `[reset] edge-3 served ${pct(share("baseline"))} of requests at baseline, ${pct(share("inject"))} under resets (HAProxy's checks are reset too, so it is taken out)`,
    );
    expect(share("inject")).toBeLessThan(share("baseline") / 2);
    expect(verify.errorRate).toBe(0);
  });
});
