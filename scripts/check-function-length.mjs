#!/usr/bin/env node
// Fails when a function in src/ spans more than MAX lines (declarations, methods, arrow
// functions and function expressions alike, counted from their first line to their last).
// A function that long is hard to read in one screen; split it into named steps.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

const MAX = Number(process.env.FAULTLINE_MAX_FUNCTION_LINES ?? 80);
const root = join(import.meta.dirname, "..", "src");

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (name.endsWith(".ts")) yield path;
  }
}

function nameOf(node, source) {
  if (node.name) return node.name.getText(source);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(source);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  return "(anonymous)";
}

const long = [];
for (const file of files(root)) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > MAX) long.push({ where: `${relative(process.cwd(), file)}:${start + 1}`, name: nameOf(node, source), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
for (const f of long) console.error(`${f.where} ${f.name}: ${f.lines} lines (at most ${MAX})`);
if (long.length > 0) {
  console.error(`${long.length} function(s) longer than ${MAX} lines: split them into named steps`);
  process.exit(1);
}
