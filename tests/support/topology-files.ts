import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InvalidInputError } from "../../src/errors.js";
import { loadTopology } from "../../src/replica/topology-file.js";
import { tempDir } from "./temp.js";

// Topology files with the user's own parts beside them, in a folder of a test's own, and the
// bad-input error loading one must give.

/** Writes `topology.yaml` and the files it names (path -> text) into a new folder; returns its path. */
export function topologyFiles(topology: string, others: Record<string, string> = {}): string {
  const dir = tempDir("faultline-own-");
  for (const [name, text] of Object.entries(others)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  writeFileSync(join(dir, "topology.yaml"), topology);
  return join(dir, "topology.yaml");
}

/** The InvalidInputError loading `file` gives; anything else fails the test. */
export async function topologyError(file: string): Promise<InvalidInputError> {
  const error: unknown = await loadTopology(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof InvalidInputError)) throw new Error(`expected bad input, got ${String(error)}`);
  return error;
}
