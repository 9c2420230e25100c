// PromQL syntax, checked offline with the Prometheus project's own grammar
// (@prometheus-io/lezer-promql): a query that cannot parse is bad input at `validate`, before
// any Prometheus is there to ask. Names (metrics, functions' arity) stay for the live check
// against the replica's Prometheus (src/steady-state/probe-preflight.ts). The grammar is loaded only when a
// file has a PromQL query, so commands on files without one do not pay for it.

export interface PromqlSyntaxError {
  /** 1-based column in the query where the parser gave up. */
  column: number;
  message: string;
}

/** The first syntax error of `query`, or undefined when it parses. */
export async function promqlSyntaxError(query: string): Promise<PromqlSyntaxError | undefined> {
  if (query.trim() === "") return { column: 1, message: "the query is empty" };
  const { parser } = await import("@prometheus-io/lezer-promql");
  let at: number | undefined;
  parser.parse(query).iterate({
    enter: (node) => {
      if (at === undefined && node.type.isError) at = node.from;
      return at === undefined;
    },
  });
  if (at === undefined) return undefined;
  const column = at + 1;
  if (query.slice(at).trim() === "")
    return {
      column,
      message: `the query ends too soon at column ${column}: an unclosed (, [ or {, or a missing operand`,
    };
  const near = query.slice(at, at + 20);
  return { column, message: `a PromQL syntax error at column ${column} of the query, at "${near}"` };
}
