import { closest } from "fastest-levenshtein";
import { type LocatedIssue, ValidationError } from "../errors.js";

// The user's own configs are templates: `{{ name }}` is a placeholder Faultline fills in (an
// address behind Toxiproxy, a port). A line that uses a list's fields (`{{ edge.name }}`,
// `{{ edge.address }}`) is written once per item of that list. An unknown placeholder is a
// located error in the template itself.

export interface TemplateValues {
  /** `{{ key }}` -> its value. */
  scalars: Readonly<Record<string, string>>;
  /** `{{ list.field }}`: a line using it is repeated once per item. */
  lists: Readonly<Record<string, readonly Readonly<Record<string, string>>[]>>;
}

const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;

/** Every placeholder the values give, sorted: what an error lists as valid. */
export function placeholderNames(values: TemplateValues): string[] {
  const fields = Object.entries(values.lists).flatMap(([list, items]) =>
    Object.keys(items[0] ?? {}).map((field) => `${list}.${field}`),
  );
  return [...Object.keys(values.scalars), ...fields].sort();
}

/** The placeholders a template uses, without rendering it. */
export function placeholdersUsed(text: string): Set<string> {
  return new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ""));
}

/**
 * The template with every placeholder filled in. `file` is the template's path (errors point
 * into it); `what` says whose config it is, e.g. "lb's config (named at topology.yaml:7:13)".
 */
export function renderTemplate(file: string, text: string, values: TemplateValues, what: string): string {
  const valid = placeholderNames(values);
  const issues: LocatedIssue[] = [];
  const lines = text.split("\n").flatMap((line, index) => {
    const lists = new Set<string>();
    for (const match of line.matchAll(PLACEHOLDER)) {
      const name = match[1] ?? "";
      const column = (match.index ?? 0) + 1;
      if (!valid.includes(name)) {
        issues.push(unknownPlaceholder(file, index + 1, column, name, valid, what));
        continue;
      }
      const list = name.split(".")[0] ?? "";
      if (values.lists[list]) lists.add(list);
    }
    if (lists.size > 1)
      issues.push({
        file,
        line: index + 1,
        column: 1,
        path: "",
        message: `one line repeats for one list; this one uses ${[...lists].map((l) => `${l}.*`).join(" and ")} (${what})`,
        suggestion: "write one line per list",
      });
    const [list] = [...lists];
    const items = list === undefined ? [undefined] : (values.lists[list] ?? []);
    return items.map((item) => fill(line, values.scalars, list, item));
  });
  if (issues.length) throw new ValidationError(issues);
  return lines.join("\n");
}

function fill(
  line: string,
  scalars: Readonly<Record<string, string>>,
  list: string | undefined,
  item: Readonly<Record<string, string>> | undefined,
): string {
  return line.replace(PLACEHOLDER, (whole, name: string) => {
    if (list !== undefined && name.startsWith(`${list}.`))
      return item?.[name.slice(list.length + 1)] ?? whole;
    return scalars[name] ?? whole;
  });
}

function unknownPlaceholder(
  file: string,
  line: number,
  column: number,
  name: string,
  valid: readonly string[],
  what: string,
): LocatedIssue {
  const guess = valid.length ? closest(name, [...valid]) : undefined;
  return {
    file,
    line,
    column,
    path: "",
    message: `unknown placeholder {{ ${name} }} in ${what}; valid here: ${valid.map((v) => `{{ ${v} }}`).join(", ")}`,
    suggestion: guess ? `did you mean {{ ${guess} }}? (docs/design.md lists every placeholder)` : undefined,
  };
}
