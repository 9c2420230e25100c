import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { experimentFilesIn } from "../../src/experiments/suite-file.js";
import { tempDir } from "../support/temp.js";

// A folder of experiments may hold what they need beside them: an example PoP's Compose file,
// a topology file. Those are not experiments; everything else YAML is, broken ones included.

describe("a folder's experiment files", () => {
  it("are its YAML files but for its suite.yaml and the Compose and topology files beside them", async () => {
    const dir = tempDir("faultline-folder-");
    const files: Record<string, string> = {
      "b.yaml": "version: 1\nname: b\nmethod: []\n",
      "a.yml": "version: 1\nname: a\n", // no method: still an experiment, so its error is shown
      "docker-compose.yml": 'version: "3.7"\nservices: { lb: { image: x } }\n',
      "topology.yaml": "version: 1\nname: mine\nedges: 2\nservices: { app: { image: mine } }\n",
      "broken.yaml": "version: [1\n",
      "suite.yaml": "version: 1\nname: s\nrelease: 1.0.0\n",
      "notes.txt": "not yaml",
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const { files: found, skipped } = await experimentFilesIn(dir);
    expect(found.map((f) => f.slice(dir.length + 1))).toEqual(["a.yml", "b.yaml", "broken.yaml"]);
    expect(skipped.map((s) => `${s.file.slice(dir.length + 1)}: ${s.what}`)).toEqual([
      "docker-compose.yml: a Docker Compose file",
      "topology.yaml: a topology file",
    ]);
  });
});
