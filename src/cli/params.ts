import { InvalidInputError } from "../errors.js";

/** `--param name=value` flags as a map; `run` and `validate` read them the same way. */
export function parseParamFlags(pairs: readonly string[] = []): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([a-zA-Z][a-zA-Z0-9_-]*)=(.*)$/.exec(pair);
    if (!match?.[1] || match[2] === undefined)
      throw new InvalidInputError(`--param: expected name=value, got "${pair}"`, {
        suggestion: "e.g. --param pop=pop-b",
      });
    params[match[1]] = match[2];
  }
  return params;
}
