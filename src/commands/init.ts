import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { input, select } from "@inquirer/prompts";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { durationFlag } from "../cli/flags.js";
import { InvalidInputError, ValidationError } from "../errors.js";
import { defaultTarget, scaffoldExperiment } from "../experiments/scaffold.js";
import { type FaultKind, faultKinds } from "../experiments/schema.js";
import { parseDuration, parseRate } from "../units.js";

export default class Init extends BaseCommand {
  static override description = `Write a new experiment to start from

Takes the name, fault, target, load rate and fault duration from flags; in a terminal it asks
for those not given (--yes takes the defaults instead). The file is validated before it is
written, and an existing file is never overwritten without --force.`;
  static override examples = [
    "<%= config.bin %> init",
    "<%= config.bin %> init --name origin-slow --fault latency --target origin --rate 100/s --for 30s --yes",
    "<%= config.bin %> init experiments/kill-an-edge.yaml --fault node-kill --yes",
  ];
  static override enableJsonFlag = true;
  static override args = {
    file: Args.string({ description: "where to write it (default: experiments/<name>.yaml)" }),
  };
  static override flags = {
    name: Flags.string({ description: "experiment name: lowercase letters, digits and dashes" }),
    fault: Flags.string({ description: "fault kind", options: [...faultKinds] }),
    target: Flags.string({
      description: "service or selector to fault, e.g. edge-1 or '{ role: edge, pick: 1 }'",
    }),
    rate: Flags.string({ description: "load rate, e.g. 100/s" }),
    for: durationFlag({ description: "how long the fault stays applied, e.g. 30s" }),
    yes: Flags.boolean({ char: "y", description: "do not ask: take defaults for what flags do not give" }),
    force: Flags.boolean({ description: "overwrite an existing file" }),
  };

  async run(): Promise<{ file: string; name: string; fault: string }> {
    const { args, flags } = await this.parse(Init);
    const interactive =
      !flags.yes && !this.jsonEnabled() && process.stdin.isTTY === true && process.stdout.isTTY === true;
    const ask = async (given: string | undefined, fallback: string, question: () => Promise<string>) =>
      given ?? (interactive ? question() : fallback);

    const name = await ask(flags.name, "my-experiment", () =>
      input({
        message: "Experiment name",
        default: "my-experiment",
        validate: (v) => /^[a-z0-9][a-z0-9-]*$/.test(v) || "lowercase letters, digits and dashes",
      }),
    );
    const fault = (await ask(flags.fault, "latency", () =>
      select({
        message: "Fault",
        choices: faultKinds.map((k) => ({ name: k, value: k })),
        default: "latency",
      }),
    )) as FaultKind;
    const target = await ask(flags.target, defaultTarget(fault), () =>
      input({ message: "Target (a service, or a selector)", default: defaultTarget(fault) }),
    );
    const rate = await ask(flags.rate, "100/s", () =>
      input({
        message: "Load rate",
        default: "100/s",
        validate: (v) => parseRate(v) !== undefined || 'a rate such as "100/s"',
      }),
    );
    // The text as given: the scaffold is validated as a whole, naming the flag of a bad value.
    const duration = await ask(flags.for?.text, "30s", () =>
      input({
        message: "Fault duration",
        default: "30s",
        validate: (v) => parseDuration(v) !== undefined || 'a duration such as "30s"',
      }),
    );

    const file = args.file ?? join("experiments", `${name}.yaml`);
    if (existsSync(file) && !flags.force) {
      throw new InvalidInputError(`${file} exists; not overwriting it`, {
        suggestion: "pass --force to replace it, or another file name",
      });
    }
    let text: string;
    try {
      text = scaffoldExperiment({ name, fault, target, rate, for: duration });
    } catch (error) {
      if (error instanceof ValidationError) {
        throw new InvalidInputError(
          `these values do not make a valid experiment:\n${error.issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`,
          { suggestion: "fix the flag named by the field above (e.g. --rate 100/s, --for 30s)" },
        );
      }
      throw error;
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    if (!this.jsonEnabled()) {
      this.log(`wrote ${file}: ${fault} on ${target} for ${duration} at ${rate}`);
      this.log(`next: faultline validate ${file} && faultline plan ${file} && faultline run ${file}`);
    }
    return { file, name, fault };
  }
}
