import { Flags } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { type Finding, runDoctor } from "../cli/doctor.js";
import { historyFlag, runsDirFlag } from "../cli/flags.js";
import { ExitCode } from "../errors.js";

export default class Doctor extends BaseCommand {
  static override description =
    `Check that this machine can run experiments, and say how to fix what is missing

Checks Node.js, the Docker engine and its API version, the replica images, the load generator
(vegeta) and Toxiproxy, netem support, free loopback ports, the runs folder and its history,
faults left by crashed runs, Chromium (for the HTML report tests), and with --temporal the
scale-out engine's server and the workers of the --engine names (default local). Exit 0 when
nothing fails (warnings allowed), 4 otherwise.`;
  static override examples = ["<%= config.bin %> doctor", "<%= config.bin %> doctor --json"];
  static override enableJsonFlag = true;
  static override flags = {
    "runs-dir": runsDirFlag("where run folders and history.db are"),
    history: historyFlag(),
    temporal: Flags.string({
      description: "also check the Temporal server of the scale-out engine at HOST:PORT",
      env: "FAULTLINE_TEMPORAL",
      helpValue: "HOST:PORT",
    }),
    engine: Flags.string({
      description: "with --temporal: check that this engine has its worker (repeatable; default local)",
      multiple: true,
      helpValue: "NAME",
    }),
  };

  async run(): Promise<{ ok: boolean; findings: Finding[] }> {
    const { flags } = await this.parse(Doctor);
    const findings = await runDoctor({
      runsDir: flags["runs-dir"],
      history: flags.history,
      temporal: flags.temporal,
      engines: flags.engine,
    });
    const ok = findings.every((f) => f.status !== "fail");
    if (!this.jsonEnabled()) {
      const mark = { ok: "✓", warn: "!", fail: "✗" } as const;
      const width = Math.max(...findings.map((f) => f.check.length)) + 2;
      for (const f of findings) {
        this.log(`${mark[f.status]} ${f.check.padEnd(width)}${f.detail}`);
        if (f.fix && f.status !== "ok") this.log(`  ${" ".repeat(width)}fix: ${f.fix}`);
      }
      const failed = findings.filter((f) => f.status === "fail").length;
      const warned = findings.filter((f) => f.status === "warn").length;
      this.log(
        ok
          ? `\nready${warned ? ` (${warned} warning(s))` : ""}`
          : `\n${failed} problem(s) to fix before running experiments`,
      );
    }
    if (!ok) process.exitCode = ExitCode.environment;
    return { ok, findings };
  }
}
