import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planActions } from "../../src/experiments/plan.js";
import { experimentSchema, type Fault, faultSchema } from "../../src/experiments/schema.js";
import type { FaultKindModule, InjectorContext } from "../../src/faults/fault-kind.js";
import { allKinds, kindOf } from "../../src/faults/registry.js";
import { parseLocated } from "../../src/format/located-yaml.js";
import { clearEntry, readLedger, writeIntent } from "../../src/lifecycle/ledger.js";
import { findLeftovers, recoverReplica, revertLedger } from "../../src/recovery/recover.js";
import { plannedSeconds, planOf } from "../../src/run/runner.js";
import { startCli } from "../support/cli.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// The conformance test of every registered fault kind, on the real replica: a kind is covered
// the moment it is in the registry. For each one, with the fault its `init` scaffold writes:
// plan describes it; applied, its own leftovers see it, and reverted, nothing is left; a
// ledger entry followed by a simulated crash is reverted from the ledger; a fault applied by
// hand (no ledger) is found and swept by `recover`; and `faultline run` with it, as a separate
// process, exits by itself once its report is written.

const NAME = "it-kinds";
const KINDS = allKinds();

/** The fault a kind's scaffold writes, held for `forSeconds`. */
function scaffoldFault(kind: FaultKindModule, forSeconds: number): { yaml: string; fault: Fault } {
  const lines = [
    `fault: ${kind.kind}`,
    `target: ${kind.scaffold.target}`,
    `for: ${forSeconds}s`,
    ...kind.scaffold.lines,
  ];
  const yaml = lines.map((line, i) => `${i === 0 ? "  - " : "    "}${line}`).join("\n");
  const { data } = parseLocated(`${kind.kind}.yaml`, lines.join("\n"), faultSchema);
  return { yaml, fault: data };
}

let sequence = 0;
function context(service: string, revertInMs = 60_000): InjectorContext & { runId: string } {
  sequence += 1;
  return {
    replica: replica(),
    runId: `conformance-${Date.now()}-${sequence}`,
    faultId: "f1",
    service,
    revertBy: Date.now() + revertInMs,
  };
}

function actionOf(fault: Fault) {
  const [action] = planActions([fault], replica().topology, 1, 0).actions;
  if (!action) throw new Error(`${fault.fault}: no action planned`);
  return action;
}

// The replica serves HTTPS at its load balancer and has its own DNS, so kinds that act on TLS
// or DNS have a target too.
const TOPOLOGY = "tests/topologies/conformance.yaml";
const replica = useReplica(NAME, { topologyFile: TOPOLOGY });

describe.each(KINDS.map((kind) => [kind.kind, kind] as const))("fault kind %s", (_name, kind) => {
  it("plan describes the action and its revert", () => {
    const action = actionOf(scaffoldFault(kind, 5).fault);
    console.log(
      `[${kind.kind}] plan: ${action.description}; revert: ${action.revert}; disruptive: ${action.disruptive}`,
    );
    expect(action.description.length).toBeGreaterThan(0);
    expect(action.revert.length).toBeGreaterThan(0);
  });

  it("apply is seen by the kind's own leftovers; revert leaves nothing behind", async () => {
    const { fault } = scaffoldFault(kind, 30);
    const action = actionOf(fault);
    expect(await findLeftovers(replica())).toEqual([]);
    const started = performance.now();
    const applied = await kindOf(fault).apply(fault, context(action.service));
    const appliedMs = performance.now() - started;
    const seen = await findLeftovers(replica());
    const revertStarted = performance.now();
    await applied.revert();
    const revertMs = performance.now() - revertStarted;
    console.log(
      `[${kind.kind}] applied in ${appliedMs.toFixed(0)} ms, reverted in ${revertMs.toFixed(0)} ms; while applied: ${seen.join("; ")}`,
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("a ledger entry and a simulated crash: the ledger's revert restores the replica", async () => {
    const { fault } = scaffoldFault(kind, 30);
    const action = actionOf(fault);
    const ctx = context(action.service);
    const { fault: name, target: _target, ...params } = fault;
    writeIntent({
      runId: ctx.runId,
      faultId: ctx.faultId,
      replica: NAME,
      kind: name,
      service: action.service,
      description: action.description,
      params,
      intentAt: new Date().toISOString(),
      revertBy: ctx.revertBy,
      pid: process.pid,
    });
    try {
      // The crash: applied, and the handle that would revert it is lost.
      await kindOf(fault).apply(fault, ctx);
      const recovered = await revertLedger(replica());
      console.log(
        `[${kind.kind}] after a crash, the ledger reverted: ${recovered.map((r) => r.what).join("; ")}`,
      );
      expect(recovered).toHaveLength(1);
      expect(readLedger(NAME, ctx.runId).entries).toEqual([]);
      expect(await findLeftovers(replica())).toEqual([]);
    } finally {
      clearEntry(NAME, ctx.runId, ctx.faultId);
    }
  });

  it("a leftover applied by hand, without a ledger, is found and swept by recover", async () => {
    const { fault } = scaffoldFault(kind, 30);
    await kindOf(fault).apply(fault, context(actionOf(fault).service));
    const found = await findLeftovers(replica());
    const { recovered, errors } = await recoverReplica(replica());
    console.log(
      `[${kind.kind}] found: ${found.join("; ")}; recover: ${recovered.map((r) => `${r.kind} ${r.target} ${r.what}`).join("; ")}`,
    );
    expect(found.length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("`faultline run` with it, as a separate process, exits by itself once its report is written", async () => {
    const dir = tempDir("faultline-kinds-");
    const yaml = `version: 1
name: conformance-${kind.kind}
replica: ${NAME}
load: { rate: 20/s, warmup: 1s, timeout: 1s }
steadyState:
  window: 1s
  baseline: 1s
  recover: 1s
  verify: 1s
  checks: [{ metric: errors.rate, atMost: 100% }]
method:
${scaffoldFault(kind, 2).yaml}
`;
    const file = join(dir, `${kind.kind}.yaml`);
    writeFileSync(file, yaml);
    const runsDir = join(dir, "runs");
    const plan = planOf(parseLocated(file, yaml, experimentSchema).data);
    // The phases, the settle, the CLI's start and the replica check, with room to spare.
    const boundMs = (plannedSeconds(plan) + 30) * 1000;
    const started = performance.now();
    // A replica: name is the built-in PoP's shape; --topology gives the file this replica came from.
    const cli = startCli([
      "run",
      file,
      ...["--topology", TOPOLOGY, "--replica", NAME],
      ...["--runs-dir", runsDir, "--no-history", "--progress", "plain"],
    ]);
    const timer = setTimeout(() => cli.child.kill("SIGKILL"), boundMs);
    const result = await cli.result.finally(() => clearTimeout(timer));
    const exitedAt = Date.now();
    const tookMs = performance.now() - started;
    const report = reportOf(runsDir);
    const afterReportMs = report ? exitedAt - statSync(report).mtimeMs : Number.NaN;
    console.log(
      `[${kind.kind}] run exited ${result.signal ? `killed by ${result.signal} after the ${boundMs / 1000}s bound` : `with code ${result.code}`} after ${(tookMs / 1000).toFixed(1)} s (${plannedSeconds(plan)} s planned); report ${report ? `written ${Math.max(0, afterReportMs).toFixed(0)} ms before the exit` : "missing"}`,
    );
    expect(result.signal, `the run did not exit by itself:\n${result.stdout}\n${result.stderr}`).toBeNull();
    expect(report).toBeDefined();
    expect(await findLeftovers(replica())).toEqual([]);
  });
});

/** The report.json of the one run in a runs folder. */
function reportOf(runsDir: string): string | undefined {
  if (!existsSync(runsDir)) return undefined;
  for (const run of readdirSync(runsDir)) {
    const file = join(runsDir, run, "report.json");
    if (existsSync(file)) return file;
  }
  return undefined;
}
