import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { EnvironmentError, ValidationError } from "../../src/errors.js";
import type { JournalEvent } from "../../src/journal/journal.js";
import { findLeftovers } from "../../src/recovery/recover.js";
import { pct, runShort } from "../support/experiment.js";
import { useReplica } from "../support/replica.js";

const NAME = "it-probes";

type ProbeEvent = Extract<JournalEvent, { type: "probe" }>;
const samplesOf = (events: readonly JournalEvent[], key: string) =>
  events.filter((e): e is ProbeEvent => e.type === "probe" && e.key === key);
const phaseStart = (events: readonly JournalEvent[], phase: string) => {
  const mark = events.find((e) => e.type === "phase" && e.phase === phase);
  return mark?.type === "phase" ? mark.second : Number.NaN;
};

describe("probes and load metrics on the real replica", () => {
  const replica = useReplica(NAME);

  it("PromQL, HTTP and command probes see an edge kill; throughput and status classes are measured", async () => {
    const run = await runShort(replica(), "  - { fault: node-kill, target: edge-1, for: 8s }", {
      rate: "40/s",
      // Long enough for the restarted edge to pass `rise` health checks before verify.
      recover: "8s",
      checks: `
    - { name: errors, metric: errors.rate, below: 100% }
    - { name: throughput, metric: throughput, atLeast: 30/s }
    - { name: ok share, metric: status.2xx, atLeast: 90% }
    - { name: edges in rotation, promql: 'haproxy_backend_active_servers{proxy="edges"}', atLeast: 2 }
    - { name: lb healthz, http: { path: /healthz, status: 200, body: ok }, atLeast: 100% }
    - { name: edge-1 config, command: { run: "nginx -t", in: edge-1 }, atLeast: 0%, every: 1s }`,
    });
    const { events, evaluation } = run;
    const applied = events.find((e) => e.type === "fault-applied");
    const reverted = events.find((e) => e.type === "fault-reverted");
    const down = events.find((e) => e.type === "lb-state" && e.edge === "edge-1" && e.state === "down");
    const appliedAt = applied ? Date.parse(applied.at) : Number.NaN;
    const injectStart = phaseStart(events, "inject");
    const verifyStart = phaseStart(events, "verify");

    // PromQL: Prometheus scrapes HAProxy every second; the probe samples every second.
    const rotation = samplesOf(events, "edges in rotation");
    const before = rotation.filter((s) => s.second < injectStart);
    const firstTwo = rotation.find((s) => s.value === 2 && Date.parse(s.at) >= appliedAt);
    const seenAfterMs = firstTwo ? Date.parse(firstTwo.at) - appliedAt : Number.NaN;
    const detectMs = down ? Date.parse(down.at) - appliedAt : Number.NaN;
    const afterVerify = rotation.filter((s) => s.second >= verifyStart);

    // Command probe inside the killed edge: fails while it is down, succeeds again after.
    const config = samplesOf(events, "edge-1 config");
    const revertedAt = reverted ? Date.parse(reverted.at) : Number.NaN;
    const whileDown = config.filter(
      (s) => Date.parse(s.at) > appliedAt + 200 && Date.parse(s.at) < revertedAt,
    );
    const healthz = samplesOf(events, "lb healthz");
    const baseline = run.stats("baseline");

    console.log(
      `[probes] PromQL saw ${before.map((s) => s.value).join(",")} edges before the kill and 2 after ${seenAfterMs} ms (HAProxy marked edge-1 down after ${detectMs} ms; scrape and probe every 1 s); ${afterVerify.map((s) => s.value).join(",")} in verify. ` +
        `Command probe in edge-1: ${whileDown.filter((s) => !s.ok).length}/${whileDown.length} failed while killed ("${whileDown.find((s) => !s.ok)?.error}"), ${config.filter((s) => s.second < injectStart && s.ok).length}/${config.filter((s) => s.second < injectStart).length} ok before. ` +
        `HTTP probe through the LB: ${healthz.filter((s) => s.ok).length}/${healthz.length} ok, ${healthz.filter((s) => !s.ok).length} failed before HAProxy marked edge-1 down${healthz.some((s) => !s.ok) ? ` ("${healthz.find((s) => !s.ok)?.error}")` : ""}. ` +
        `Load: ${baseline.throughput?.toFixed(1)}/s for 40/s, 2xx ${pct((baseline.statuses["2xx"] ?? 0) / baseline.count)}. Verdict ${evaluation.verdict}.`,
    );

    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(before.every((s) => s.value === 3)).toBe(true);
    expect(firstTwo).toBeDefined();
    // Prometheus learns of the change from HAProxy: not before HAProxy itself, and within a
    // scrape plus a probe interval (and scheduling slack) after it.
    expect(seenAfterMs).toBeGreaterThanOrEqual(detectMs - 250);
    expect(seenAfterMs).toBeLessThanOrEqual(detectMs + 3000);
    expect(afterVerify.length).toBeGreaterThan(0);
    expect(afterVerify.every((s) => s.value === 3)).toBe(true);

    expect(whileDown.length).toBeGreaterThanOrEqual(4);
    expect(whileDown.every((s) => s.ok === false && (s.error ?? "") !== "")).toBe(true);
    expect(config.filter((s) => s.second < injectStart).every((s) => s.ok)).toBe(true);
    expect(config.filter((s) => s.second >= verifyStart).every((s) => s.ok)).toBe(true);

    // Through the load balancer, /healthz lands on the killed edge until HAProxy marks it
    // down: failures are allowed only in that gap (plus a probe timeout), none before or after.
    const downAt = down ? Date.parse(down.at) : Number.NaN;
    const failedAt = healthz.filter((s) => !s.ok).map((s) => Date.parse(s.at));
    expect(healthz.length).toBeGreaterThanOrEqual(10);
    expect(failedAt.every((t) => t > appliedAt && t <= downAt + 2500)).toBe(true);

    expect(baseline.throughput ?? 0).toBeGreaterThan(38);
    expect(baseline.throughput ?? 0).toBeLessThan(42);
    expect(baseline.statuses["2xx"]).toBe(baseline.count);
    // The probes' windows are judged like the load's. Requests (and /healthz probes) that the
    // load balancer still sends to the killed edge before detection may time out, so some
    // checks can break under fault: the verdict follows from the windows either way.
    const summary = (name: string) => evaluation.checks.find((c) => c.check === name)?.phases;
    const brokeUnderFault = evaluation.checks.filter((c) => {
      const s = c.phases.inject;
      return s !== undefined && s.held < s.windows;
    });
    expect(evaluation.verdict).toBe(brokeUnderFault.length ? "degraded" : "passed");
    expect(summary("edges in rotation")?.inject).toMatchObject({
      worst: 2,
      held: summary("edges in rotation")?.inject?.windows,
    });
    expect(summary("errors")?.inject?.held).toBe(summary("errors")?.inject?.windows);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("rejects a PromQL syntax error and an unknown metric, located, before anything is touched", async () => {
    const attempt = (check: string) =>
      runShort(replica(), "  - { fault: latency, target: edge-1, latency: 50ms, for: 2s }", {
        checks: `\n    - { metric: errors.rate, below: 100% }\n    - ${check}`,
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
    const syntax = await attempt(
      "{ name: broken, promql: 'sum(rate(haproxy_backend_http_responses_total[5s])', atLeast: 0 }",
    );
    const unknown = await attempt(
      "{ name: misspelt, promql: 'sum(haproxy_backend_active_server) or vector(0)', atLeast: 1 }",
    );
    console.log(
      `[probes] syntax: ${(syntax as Error).message}\n[probes] unknown metric: ${(unknown as Error).message} (${(unknown as ValidationError).suggestion})`,
    );
    expect(syntax).toBeInstanceOf(ValidationError);
    expect((syntax as ValidationError).exitCode).toBe(2);
    expect((syntax as Error).message).toMatch(
      /^short\.yaml:\d+:\d+ steadyState\.checks\[1\]\.promql: check "broken": Prometheus rejected the query: .*parse error/,
    );
    expect(unknown).toBeInstanceOf(ValidationError);
    expect((unknown as Error).message).toContain(
      'check "misspelt": Prometheus has no metric "haproxy_backend_active_server"',
    );
    expect((unknown as ValidationError).suggestion).toContain(
      'did you mean "haproxy_backend_active_servers"?',
    );
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("an unreachable probe or an ambiguous query makes the baseline inconclusive, naming the check", async () => {
    const run = await runShort(replica(), "  - { fault: latency, target: edge-1, latency: 50ms, for: 2s }", {
      checks: `
    - { metric: errors.rate, below: 100% }
    - { name: status page, http: { endpoint: lb-stats, path: /no-such-page, status: 200 }, atLeast: 100% }
    - { name: per-server status, promql: haproxy_server_status, atLeast: 0 }`,
    });
    const { evaluation, events } = run;
    console.log(`[probes] ${evaluation.verdict}: ${evaluation.reason}`);
    expect(evaluation.verdict).toBe("inconclusive");
    expect(evaluation.exitCode).toBe(3);
    expect(evaluation.reason).toMatch(
      /status page: 0\.0% \(\d+ of \d+ probe samples failed, last: status \d+, expected 200\)/,
    );
    expect(events.some((e) => e.type === "fault-intent")).toBe(false);
    const ambiguous = evaluation.checks.find((c) => c.check === "per-server status")?.phases.baseline;
    expect(ambiguous).toMatchObject({ noData: ambiguous?.windows });
    const sample = samplesOf(events, "per-server status")[0];
    expect(sample?.error).toMatch(/the query returned \d+ series .*aggregate them/);
  });

  it("a Prometheus that cannot be reached is an environment error, not a pass", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const broken = {
      ...replica(),
      endpoints: { ...replica().endpoints, prometheus: `http://127.0.0.1:${port}` },
    };
    const error = await runShort(broken, "  - { fault: latency, target: edge-1, latency: 50ms, for: 2s }", {
      checks: "\n    - { name: rotation, promql: up, atLeast: 1 }",
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    console.log(`[probes] unreachable Prometheus: ${(error as Error).message}`);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toContain('check "rotation" cannot be measured');
    expect(await findLeftovers(replica())).toEqual([]);
  });
});
