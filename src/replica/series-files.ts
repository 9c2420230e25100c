import { execIn } from "./exec.js";
import { LB_SERIES_DIR, LB_SERIES_FILE } from "./topology.js";

// The files behind a run's series in the load balancer that serves them (src/replica/lb-lua.ts):
// each run's own file in LB_SERIES_DIR, and their concatenation, which is what is served.

const concatenate = `cat ${LB_SERIES_DIR}/*.prom > ${LB_SERIES_FILE}.tmp 2>/dev/null; mv ${LB_SERIES_FILE}.tmp ${LB_SERIES_FILE}`;

async function run(container: string, script: string, content = ""): Promise<string> {
  const { exitCode, output } = await execIn(container, ["bash", "-c", script, "faultline-series", content], {
    timeoutMs: 5000,
  });
  if (exitCode !== 0) throw new Error(output.trim() || `exit ${exitCode}`);
  return output;
}

/** Replaces a run's file (runId: a file name) and the served concatenation. */
export async function writeSeriesFile(container: string, runId: string, content: string): Promise<void> {
  const file = `${LB_SERIES_DIR}/${runId}`;
  await run(
    container,
    `mkdir -p ${LB_SERIES_DIR}; printf '%s' "$1" > ${file}.tmp && mv ${file}.tmp ${file}.prom; ${concatenate}`,
    content,
  );
}

/** Removes the files of the runs matching `glob` ("*": every run's); returns how many there were. */
export async function removeSeriesFiles(container: string, glob: string): Promise<number> {
  const output = await run(
    container,
    `n=$(ls ${LB_SERIES_DIR}/${glob}.prom 2>/dev/null | wc -l); rm -f ${LB_SERIES_DIR}/${glob}.prom; mkdir -p ${LB_SERIES_DIR}; ${concatenate}; echo $n`,
  );
  return Number(output.trim().split("\n").pop()) || 0;
}
