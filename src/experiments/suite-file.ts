import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { parseYamlWithSchema, readInputFile } from "../format/located-yaml.js";
import { duration } from "../format/unit-schemas.js";
import { isTopologyDocument } from "../replica/topology-file.js";

// A folder of experiments may carry a suite.yaml: the suite's name and version, parameter
// values for its experiments (e.g. the PoP under test), and the criteria of its go/no-go
// decision. `faultline run FOLDER` reads it; each criterion becomes a gate on every run.

export const SUITE_FILE = "suite.yaml";

export const suiteFileSchema = z.strictObject({
  version: z.literal(1, { error: "expected version: 1" }),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
    message: "expected a suite name of lowercase letters, digits and dashes",
  }),
  release: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/, { message: 'expected a release such as "1.0.0"' })
    .describe("the suite's own version: a go decision names the release it was made with"),
  description: z.string().optional(),
  params: z
    .record(z.string(), z.union([z.string(), z.number()]).transform(String))
    .default({})
    .describe("values for the experiments' params (override: --param name=value)"),
  go: z
    .strictObject({
      minScore: z.number().min(0).max(100).default(70).describe("every run scores at least this"),
      acceptDegraded: z
        .boolean()
        .default(true)
        .describe("a degraded run can still be a go (a failed, aborted or errored run never is)"),
      maxDetect: duration()
        .optional()
        .describe("whole-PoP loss: the global layer marks the PoP down within this"),
      maxFailBack: duration()
        .optional()
        .describe("whole-PoP loss: the PoP serves again within this after the revert"),
    })
    .default({ minScore: 70, acceptDegraded: true }),
});
export type SuiteFile = z.infer<typeof suiteFileSchema>;

/** The suite.yaml of a folder, when it has one. */
export async function loadSuiteFile(folder: string): Promise<SuiteFile | undefined> {
  const file = join(folder, SUITE_FILE);
  if (!existsSync(file)) return undefined;
  const text = await readInputFile(file, "suite file", `experiments/launch-readiness/${SUITE_FILE}`);
  return parseYamlWithSchema(file, text, suiteFileSchema);
}

/** A YAML file in an experiments folder that is not an experiment, and what it is. */
export interface SkippedFile {
  file: string;
  what: string;
}

export const TOPOLOGY_FILE = "a topology file";

/** What a YAML file is when it is not an experiment (it has no `method:`). */
function notAnExperiment(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return undefined; // unparsable: loaded as an experiment, so that its error is shown
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc) || "method" in doc) return undefined;
  // A topology file may have services: of its own; a Compose file has no edges or pops.
  if (isTopologyDocument(doc)) return TOPOLOGY_FILE;
  if ("services" in doc) return "a Docker Compose file";
  return undefined;
}

/**
 * A folder's experiment files: its *.yaml and *.yml, sorted, but for its suite.yaml and the
 * Compose and topology files that may sit beside them (an example PoP's folder holds all three).
 */
export async function experimentFilesIn(
  folder: string,
): Promise<{ files: string[]; skipped: SkippedFile[] }> {
  const files: string[] = [];
  const skipped: SkippedFile[] = [];
  for (const name of (await readdir(folder)).filter((f) => /\.ya?ml$/.test(f) && f !== SUITE_FILE).sort()) {
    const file = join(folder, name);
    const what = await notAnExperimentFile(file);
    if (what) skipped.push({ file, what });
    else files.push(file);
  }
  return { files, skipped };
}

/** What a YAML file is when it is not an experiment: a Compose or topology file (TOPOLOGY_FILE). */
export async function notAnExperimentFile(file: string): Promise<string | undefined> {
  return notAnExperiment(await readFile(file, "utf8").catch(() => ""));
}
