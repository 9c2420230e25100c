/**
 * Exit codes are part of Faultline's public interface: CI pipelines branch on them.
 * "The system under test deviated" and "the tool broke" never share a code.
 */
export const ExitCode = {
  passed: 0,
  failed: 1,
  invalidInput: 2,
  inconclusive: 3,
  environment: 4,
  degraded: 5,
  aborted: 6,
  gateFailed: 7,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface FaultlineErrorOptions {
  suggestion?: string;
  cause?: unknown;
}

/** Base of every error that reaches a user: carries its exit code and a suggestion. */
export class FaultlineError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly suggestion: string | undefined;

  constructor(message: string, exitCode: ExitCodeValue, options: FaultlineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.suggestion = options.suggestion;
  }
}

/** Input the user gave us is wrong: a file, a flag, a target. Nothing was touched. */
export class InvalidInputError extends FaultlineError {
  constructor(message: string, options: FaultlineErrorOptions = {}) {
    super(message, ExitCode.invalidInput, options);
  }
}

export interface LocatedIssue {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
  suggestion?: string | undefined;
}

/** One or more problems in a YAML document, each pointing at file:line:column and a field path. */
export class ValidationError extends InvalidInputError {
  readonly issues: LocatedIssue[];

  constructor(issues: LocatedIssue[]) {
    const first = issues[0];
    super(
      issues
        .map((i) => `${i.file}:${i.line}:${i.column} ${i.path ? `${i.path}: ` : ""}${i.message}`)
        .join("\n"),
      {
        suggestion:
          first?.suggestion ?? "fix the fields above; `faultline validate FILE` re-checks without running",
      },
    );
    this.issues = issues;
  }
}

/** The machine is not ready (no Docker engine, a missing binary, a replica that will not come up). */
export class EnvironmentError extends FaultlineError {
  constructor(message: string, options: FaultlineErrorOptions = {}) {
    super(message, ExitCode.environment, options);
  }
}

export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch() says only "fetch failed"; what failed (a refused connection, a reset) is its cause.
  const { cause } = error;
  if (error.message === "fetch failed" && cause instanceof Error) {
    const detail = cause.message || ("code" in cause ? String(cause.code) : "");
    if (detail) return `fetch failed (${detail})`;
  }
  return error.message;
}
