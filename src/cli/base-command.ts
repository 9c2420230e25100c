import { Command, Errors, Flags } from "@oclif/core";
import { ExitCode, FaultlineError } from "../errors.js";

/**
 * Every command's base: a --debug flag, and one catch() that turns any error into a short
 * message, a suggestion and a documented exit code. Stack traces only with --debug.
 */
export abstract class BaseCommand extends Command {
  static override baseFlags = {
    debug: Flags.boolean({
      description: "print stack traces and internal detail on errors",
      helpGroup: "GLOBAL",
    }),
  };

  protected debugEnabled(): boolean {
    return this.argv.includes("--debug") || process.env.FAULTLINE_DEBUG === "1";
  }

  /** Progress goes to stderr so that stdout stays clean for --json and for pipes. */
  protected progress(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`);
  }

  protected override async catch(
    error: Error & { exitCode?: number; oclif?: { exit?: number } },
  ): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error;
    const debug = this.debugEnabled();
    let exitCode: number;
    let message: string;
    let suggestion: string | undefined;
    if (error instanceof FaultlineError) {
      exitCode = error.exitCode;
      message = error.message;
      suggestion = error.suggestion;
    } else if (error.oclif?.exit !== undefined) {
      // oclif's own parse errors (unknown flag, missing argument): invalid input.
      exitCode = error.oclif.exit === 2 ? ExitCode.invalidInput : error.oclif.exit;
      message = error.message;
      suggestion = `see \`faultline ${this.id?.replace(/:/g, " ") ?? ""} --help\``;
    } else {
      exitCode = ExitCode.environment;
      message = `internal error: ${error.message}`;
      suggestion = debug ? undefined : "re-run with --debug for details, and report it if it persists";
    }
    if (this.jsonEnabled()) {
      this.logJson({ error: { message, suggestion, exitCode, type: error.name } });
    } else {
      process.stderr.write(`error: ${message}\n`);
      if (suggestion) process.stderr.write(`try this: ${suggestion}\n`);
      if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    }
    return this.exit(exitCode);
  }
}
