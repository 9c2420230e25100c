#!/usr/bin/env node
// Writes oclif.manifest.json (build output, git-ignored) after `tsc`: with it, oclif lists the
// commands and their flags without importing every command module at start-up, which is most
// of the CLI's cold start (measured in bench/cold-start.bench.ts).
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Plugin } from "@oclif/core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const plugin = new Plugin({ root, type: "core", ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
writeFileSync(join(root, "oclif.manifest.json"), `${JSON.stringify(plugin.manifest)}\n`);
console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`);
