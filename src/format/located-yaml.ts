import { readFile } from "node:fs/promises";
import { closest } from "fastest-levenshtein";
import { isMap, isNode, isPair, isScalar, LineCounter, type Node, parseDocument, visit } from "yaml";
import type { z } from "zod";
import { InvalidInputError, type LocatedIssue, ValidationError } from "../errors.js";

// YAML with positions: every input file (experiments, topologies, suites) is parsed here, so
// each of their problems is reported with file, line, column and field path.

/** A document whose fields can be located: its file and where each field path is. */
export interface LocatedDocument {
  file: string;
  /** Where a field of the document is (1-based line and column); for errors found after loading. */
  locate?: (path: readonly PathKey[]) => { line: number; column: number };
}

export type PathKey = string | number;

/**
 * Parses YAML keeping positions, validates it with a zod schema, and turns every problem into
 * a LocatedIssue (file, line, column, field path, expectation). The only place where an
 * untyped document exists; what leaves here is typed.
 */
export function parseYamlWithSchema<S extends z.ZodType>(file: string, text: string, schema: S): z.output<S> {
  return parseLocated(file, text, schema).data;
}

type Locate = (offset: number) => { line: number; col: number };
type Document = ReturnType<typeof parseDocument>;

/** As parseYamlWithSchema, and also returns where each field of the document is. */
export function parseLocated<S extends z.ZodType>(
  file: string,
  text: string,
  schema: S,
  params?: Readonly<Record<string, string>>,
): { data: z.output<S>; locate: (path: readonly PathKey[]) => { line: number; column: number } } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locate: Locate = (offset) => lineCounter.linePos(offset);
  refuseSyntaxErrors(file, doc, locate);
  if (params) substituteParams(file, doc, params, locate);
  const value = toPlain(file, doc, locate);
  refuseNonMapping(file, doc, value, locate);
  const result = schema.safeParse(value);
  if (result.success) {
    return {
      data: result.data,
      locate: (path) => {
        const pos = locate(nodeAt(doc.contents, path).offset);
        return { line: pos.line, column: pos.col };
      },
    };
  }
  throw new ValidationError(locateIssues(file, doc, schema, value, result.error.issues, locate));
}

function refuseSyntaxErrors(file: string, doc: Document, locate: Locate): void {
  if (doc.errors.length === 0) return;
  throw new ValidationError(
    doc.errors.map((error) => {
      const pos = locate(error.pos[0]);
      return {
        file,
        line: pos.line,
        column: pos.col,
        path: "",
        message: `YAML syntax: ${error.message.split("\n")[0] ?? error.code}`,
        suggestion: "check indentation and quoting near that line",
      };
    }),
  );
}

function refuseNonMapping(file: string, doc: Document, value: unknown, locate: Locate): void {
  if (value !== null && value !== undefined && typeof value === "object" && !Array.isArray(value)) return;
  const pos = locate(isNode(doc.contents) ? (doc.contents.range?.[0] ?? 0) : 0);
  const got =
    value === null || value === undefined
      ? "an empty document"
      : Array.isArray(value)
        ? "a list"
        : "a plain value";
  throw new ValidationError([
    {
      file,
      line: pos.line,
      column: pos.col,
      path: "",
      message: `expected a YAML mapping of fields (key: value lines, starting with version: 1), got ${got}`,
      suggestion: "start from an example: experiments/edge-latency.yaml, or `faultline init`",
    },
  ]);
}

type LocatedCandidate = LocatedIssue & { missing?: string; guessed?: string };

/** Each schema issue with its file position, a guess for a misspelt field, and "is required" for a missing one. */
function locateIssues(
  file: string,
  doc: Document,
  schema: z.ZodType,
  value: unknown,
  zodIssues: readonly z.core.$ZodIssue[],
  locate: Locate,
): LocatedIssue[] {
  const located = zodIssues.map((issue): LocatedCandidate => {
    const path = issue.path.filter((k): k is PathKey => typeof k === "string" || typeof k === "number");
    if (issue.code === "unrecognized_keys")
      return unknownKeyIssue(file, doc, schema, value, path, issue.keys[0] ?? "", locate);
    const node = nodeAt(doc.contents, path);
    let message = issue.message;
    const shownPath = formatPath(path);
    let missing: string | undefined;
    if (issue.code === "invalid_type" && node.exact === false && isMissing(doc.contents, path)) {
      message = `is required: ${issue.message.replace(/^Invalid input: /, "")}`;
      missing = shownPath;
    }
    const pos = locate(node.offset);
    return {
      file,
      line: pos.line,
      column: pos.col,
      path: shownPath,
      message,
      // A schema's own suggestion for this value (a custom issue's params.suggestion).
      suggestion:
        issue.code === "custom" && typeof issue.params?.suggestion === "string"
          ? issue.params.suggestion
          : undefined,
      missing,
    };
  });
  // "for is required" next to "unknown field fro (did you mean for?)" is one mistake: keep the
  // issue that names the misspelling.
  const guessed = new Set(located.flatMap((i) => (i.guessed ? [i.guessed] : [])));
  return located
    .filter((i) => !(i.missing && guessed.has(i.missing)))
    .map(({ missing: _m, guessed: _g, ...issue }) => issue);
}

function unknownKeyIssue(
  file: string,
  doc: Document,
  schema: z.ZodType,
  value: unknown,
  path: PathKey[],
  key: string,
  locate: Locate,
): LocatedCandidate {
  const node = keyNodeAt(doc.contents, path, key) ?? nodeAt(doc.contents, path);
  const known = knownKeys(schema, path, value);
  const guess = known.length ? closest(key, known) : undefined;
  const pos = locate(node.offset);
  return {
    file,
    line: pos.line,
    column: pos.col,
    path: formatPath([...path, key]),
    message: `unknown field "${key}"${known.length ? ` (expected one of: ${known.join(", ")})` : ""}`,
    suggestion: guess ? `did you mean "${guess}"?` : undefined,
    guessed: formatPath([...path, guess ?? ""]),
  };
}

/** `${name}` in a string value; `$${` escapes a literal `${`. */
const PARAM = /\$(\$)?\{([^}]*)\}/g;
const PARAM_NAME = /^[a-zA-Z][a-zA-Z0-9_-]*$/;

/**
 * Replaces `${name}` in every string value with the parameter's value: the document's own
 * `params:` defaults, overridden by `given` (a suite's params, then --param). Done on the
 * parsed document, so positions, and with them located errors, stay those of the file.
 */
function substituteParams(
  file: string,
  doc: ReturnType<typeof parseDocument>,
  given: Readonly<Record<string, string>>,
  locate: (offset: number) => { line: number; col: number },
): void {
  const declared = doc.get("params");
  // Only a document that declares params: has placeholders; elsewhere ${...} is left as
  // written (a shell variable in a command probe, a journal from before params existed).
  if (!isMap(declared)) return;
  const defaults: Record<string, string> = {};
  if (isMap(declared)) {
    for (const pair of declared.items) {
      if (isScalar(pair.key) && isScalar(pair.value))
        defaults[String(pair.key.value)] = pair.value.source ?? String(pair.value.value);
    }
  }
  const values: Record<string, string> = { ...defaults, ...given };
  const issues: LocatedIssue[] = [];
  const visitNode = (node: unknown, path: PathKey[]): void => {
    if (isScalar(node)) {
      if (typeof node.value !== "string" || !node.value.includes("${")) return;
      // A plain scalar that is one placeholder takes the value's own type: `pick: ${n}` is a number.
      const whole = /^\$\{([^}]*)\}$/.exec(node.value);
      const wholeValue = whole?.[1] !== undefined ? values[whole[1]] : undefined;
      if (node.type === "PLAIN" && wholeValue !== undefined && /^-?\d+(\.\d+)?$/.test(wholeValue)) {
        node.value = Number(wholeValue);
        return;
      }
      node.value = node.value.replace(PARAM, (whole, escaped: string | undefined, name: string) => {
        if (escaped) return whole.slice(1);
        const value = values[name];
        if (value !== undefined && PARAM_NAME.test(name)) return value;
        const pos = locate(node.range?.[0] ?? 0);
        const known = Object.keys(values);
        issues.push({
          file,
          line: pos.line,
          column: pos.col,
          path: formatPath(path),
          message: `unknown parameter \${${name}}${known.length ? ` (known: ${known.join(", ")})` : ""}`,
          suggestion: `declare it under params: (e.g. params: { ${PARAM_NAME.test(name) ? name : "pop"}: pop-b }) or pass --param ${PARAM_NAME.test(name) ? name : "pop"}=VALUE`,
        });
        return whole;
      });
      return;
    }
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : "?";
        if (path.length === 0 && key === "params") continue;
        visitNode(pair.value, [...path, key]);
      }
      return;
    }
    if (isNode(node) && "items" in node && Array.isArray(node.items))
      node.items.forEach((item: unknown, index: number) => {
        visitNode(item, [...path, index]);
      });
  };
  visitNode(doc.contents, []);
  if (issues.length) throw new ValidationError(issues);
}

/** Reads a YAML input file; a missing or unreadable one is invalid input naming `what` it should be. */
export async function readInputFile(file: string, what: string, example: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InvalidInputError(
      code === "ENOENT" ? `${file}: no such ${what}` : `${file}: cannot read (${code ?? "unknown error"})`,
      {
        suggestion: `pass the path of ${what === "file" ? "an experiment YAML file" : `a ${what}`}, e.g. ${example}`,
      },
    );
  }
}

export function formatPath(path: readonly PathKey[]): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${key}` : key),
    "",
  );
}

/** The deepest node that exists along `path`; `exact` says whether the whole path resolved. */
function nodeAt(root: unknown, path: readonly PathKey[]): { offset: number; exact: boolean } {
  let current: unknown = root;
  let offset = isNode(root) ? (root.range?.[0] ?? 0) : 0;
  for (const key of path) {
    const next = childOf(current, key);
    if (!next) return { offset, exact: false };
    current = next;
    offset = next.range?.[0] ?? offset;
  }
  return { offset, exact: true };
}

function childOf(node: unknown, key: PathKey): Node | undefined {
  if (!isNode(node)) return undefined;
  if ("items" in node && Array.isArray(node.items)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      return pair && isNode(pair.value) ? pair.value : undefined;
    }
    const item: unknown = typeof key === "number" ? node.items[key] : undefined;
    return isNode(item) ? item : undefined;
  }
  return undefined;
}

function keyNodeAt(
  root: unknown,
  path: readonly PathKey[],
  key: string,
): { offset: number; exact: boolean } | undefined {
  let current: unknown = root;
  for (const k of path) current = childOf(current, k);
  if (!isMap(current)) return undefined;
  const pair = current.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (!pair || !isScalar(pair.key)) return undefined;
  return { offset: pair.key.range?.[0] ?? 0, exact: true };
}

function isMissing(root: unknown, path: readonly PathKey[]): boolean {
  let current: unknown = root;
  for (const k of path) {
    const next = childOf(current, k);
    if (!next) return true;
    current = next;
  }
  return false;
}

/** Field names the schema accepts at `path`, for "did you mean" suggestions. */
function knownKeys(schema: z.ZodType, path: readonly PathKey[], document: unknown): string[] {
  let current: unknown = schema;
  let value: unknown = document;
  for (const key of path) {
    current = unwrap(current);
    if (typeof key === "number") {
      current = arrayElement(current);
      value = Array.isArray(value) ? value[key] : undefined;
    } else {
      current = shapeOf(current, value)?.[key];
      value = isRecord(value) ? value[key] : undefined;
    }
    if (!current) return [];
  }
  const shape = shapeOf(unwrap(current), value);
  return shape ? Object.keys(shape) : [];
}

interface SchemaDef {
  type?: string;
  innerType?: unknown;
  in?: unknown;
  schema?: unknown;
  element?: unknown;
  options?: unknown[];
  discriminator?: string;
  values?: unknown[];
  shape?: Record<string, unknown>;
}

interface SchemaInternals {
  _zod?: { def?: SchemaDef };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function defOf(schema: unknown): SchemaDef | undefined {
  return (schema as SchemaInternals | undefined)?._zod?.def;
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let i = 0; i < 10; i++) {
    const def = defOf(current);
    const inner = def?.innerType ?? def?.in ?? def?.schema;
    if (!inner) break;
    current = inner;
  }
  return current;
}

function arrayElement(schema: unknown): unknown {
  return defOf(schema)?.element;
}

function shapeOf(schema: unknown, value: unknown): Record<string, unknown> | undefined {
  const def = defOf(schema);
  if (def?.shape) return def.shape;
  if (!def?.options) return undefined;
  // A discriminated union: the fields of the member the document names (e.g. fault: latency).
  const discriminator = def.discriminator;
  if (discriminator && isRecord(value)) {
    const chosen = def.options.find((option) => {
      const literal = shapeOf(unwrap(option), undefined)?.[discriminator];
      return defOf(literal)?.values?.includes(value[discriminator]);
    });
    if (chosen) return shapeOf(unwrap(chosen), value);
  }
  const merged: Record<string, unknown> = {};
  for (const option of def.options) Object.assign(merged, shapeOf(unwrap(option), value) ?? {});
  return merged;
}

/**
 * An error about a field of a loaded document found after loading (e.g. a PromQL query that
 * Prometheus rejects), located like the loader's own errors.
 */
export function fieldError(
  loaded: LocatedDocument,
  path: readonly PathKey[],
  message: string,
  suggestion?: string,
  inside?: { value: string; offset: number; source: string },
): ValidationError {
  const pos = loaded.locate?.(path) ?? { line: 1, column: 1 };
  const column = pos.column + (inside ? columnInside(inside, pos) : 0);
  return new ValidationError([
    { file: loaded.file, line: pos.line, column, path: formatPath(path), message, suggestion },
  ]);
}

/**
 * How far into a field's value a position is, in the file's columns: the offset itself when
 * the value is written plain or quoted on its line as it reads (no escapes); 0 (the value's
 * start) when it is written otherwise (a block scalar, escapes).
 */
function columnInside(
  inside: { value: string; offset: number; source: string },
  pos: { line: number; column: number },
): number {
  const written = inside.source.split("\n")[pos.line - 1]?.slice(pos.column - 1) ?? "";
  if (written.startsWith(inside.value)) return inside.offset;
  if (/^["']/.test(written) && written.slice(1).startsWith(inside.value)) return inside.offset + 1;
  return 0;
}

/** The document as plain data; an alias to an anchor that is not set is a located error. */
function toPlain(
  file: string,
  doc: ReturnType<typeof parseDocument>,
  locate: (offset: number) => { line: number; col: number },
): unknown {
  try {
    return doc.toJS();
  } catch (error) {
    let offset = 0;
    let name = "";
    visit(doc, {
      Alias(_, alias) {
        if (alias.resolve(doc) !== undefined) return undefined;
        offset = alias.range?.[0] ?? 0;
        name = alias.source;
        return visit.BREAK;
      },
    });
    const pos = locate(offset);
    throw new ValidationError([
      {
        file,
        line: pos.line,
        column: pos.col,
        path: "",
        message: name
          ? `YAML syntax: alias *${name} refers to no anchor (&${name} must be set before it)`
          : `YAML syntax: ${error instanceof Error ? error.message : String(error)}`,
        suggestion: "set the anchor (&name) on an earlier value, or write the value out",
      },
    ]);
  }
}
