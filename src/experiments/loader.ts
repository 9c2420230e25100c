import { dirname, isAbsolute, join } from "node:path";
import { InvalidInputError, ValidationError } from "../errors.js";
import { kindOf } from "../faults/registry.js";
import {
  fieldError,
  type LocatedDocument,
  type PathKey,
  parseLocated,
  readInputFile,
} from "../format/located-yaml.js";
import { promqlSyntaxError } from "../format/promql-syntax.js";
import { type AttachSettings, attachedTopology } from "../replica/attach.js";
import { REPLICA_NAME, REPLICA_NAME_RULE, type Topology } from "../replica/topology.js";
import { isTopologyPath, loadTopology } from "../replica/topology-file.js";
import { unknownPops } from "./plan.js";
import { type Experiment, experimentSchema } from "./schema.js";
import { resolveTarget, seededRandom } from "./targets.js";

export interface LoadedExperiment extends LocatedDocument {
  experiment: Experiment;
  /** The document as written; journaled so a run can be re-evaluated and reported on its own. */
  source?: string;
  /** The replica's shape, when `replica:` names a topology file. */
  topology?: Topology;
  /** The running stack `replica: { attach: ... }` names. */
  attach?: AttachSettings;
  /** Values given for the document's ${name} placeholders (over its own `params:`). */
  params?: Readonly<Record<string, string>>;
}

export interface LoadOptions {
  /** Values for the experiment's `${name}` parameters (over its own `params:` defaults). */
  params?: Readonly<Record<string, string>>;
  /** A topology file to run against instead of the replica the experiment names (--topology). */
  topology?: string | undefined;
  /**
   * Command probes on this machine (not `in:` a replica service) are refused unless allowed
   * from outside the file (--allow-host-commands): the file may come from anyone's pull request.
   */
  allowHostCommands?: boolean | undefined;
}

export async function loadExperiment(file: string, options: LoadOptions = {}): Promise<LoadedExperiment> {
  const text = await readInputFile(file, "file", "experiments/edge-latency.yaml");
  const { data, locate } = parseLocated(file, text, experimentSchema, options.params ?? {});
  const loaded: LoadedExperiment = {
    file,
    experiment: data,
    locate,
    source: text,
    ...(options.params && Object.keys(options.params).length ? { params: options.params } : {}),
  };
  if (typeof data.replica !== "string") {
    if (options.topology)
      throw fieldError(
        loaded,
        ["replica"],
        `--topology ${options.topology}: this experiment attaches to a running stack, which has its own shape`,
        "drop --topology, or run an experiment whose replica: is a name or a topology file",
      );
    // An attached stack: targets are checked against its role mapping (no Docker needed).
    loaded.attach = data.replica.attach;
    refuseUnavailableProbes(loaded);
    checkTargets(loaded, attachedTopology(loaded.attach));
  } else if (options.topology) {
    // --topology FILE: the experiment runs against that file's replica, whatever it names.
    loaded.topology = await loadTopology(options.topology);
    checkTargets(loaded, loaded.topology);
  } else if (isTopologyPath(data.replica)) {
    // `replica: topologies/x.yaml` names a topology file, relative to the experiment's folder.
    const path = isAbsolute(data.replica) ? data.replica : join(dirname(file), data.replica);
    try {
      loaded.topology = await loadTopology(path);
    } catch (error) {
      if (error instanceof InvalidInputError && !(error instanceof ValidationError))
        throw fieldError(loaded, ["replica"], error.message, error.suggestion);
      throw error;
    }
    checkTargets(loaded, loaded.topology);
  }
  refusePlainHttpTls(loaded);
  refuseDnsWithoutDns(loaded);
  refuseOffMachine(loaded, options.allowHostCommands === true);
  await refuseBadPromql(loaded);
  return loaded;
}

/** A PromQL query that cannot parse, located at its field with the column inside the query. */
async function refuseBadPromql(loaded: LoadedExperiment): Promise<void> {
  for (const { probe, at } of probesOf(loaded.experiment)) {
    if (probe?.kind !== "promql") continue;
    const error = await promqlSyntaxError(probe.query);
    if (error)
      throw fieldError(
        loaded,
        [...at, "promql"],
        `expected a PromQL query: ${error.message} ("${probe.query}")`,
        "fix the query; Prometheus's own grammar checks it here, offline (try it in Prometheus's expression browser)",
        { value: probe.query, offset: error.column - 1, source: loaded.source ?? "" },
      );
  }
}

/** Every check's and abort condition's probe, with the path of its condition. */
function probesOf(experiment: LoadedExperiment["experiment"]) {
  return [
    ...experiment.steadyState.checks.map((c, i) => ({ probe: c.probe, at: ["steadyState", "checks", i] })),
    ...experiment.abort.map((c, i) => ({ probe: c.probe, at: ["abort", i] })),
  ];
}

/**
 * A TLS check on the replica's entry point, or load over HTTPS, needs a replica that serves
 * HTTPS (its topology file's tls:); on one that serves plain HTTP they could only fail.
 * Refused where they are written.
 */
function refusePlainHttpTls(loaded: LoadedExperiment): void {
  if (loaded.topology?.tls) return;
  const { experiment } = loaded;
  const replica =
    typeof experiment.replica === "string" ? `replica "${experiment.replica}"` : "the attached stack";
  const suggestion =
    "serve HTTPS with tls: { terminate: lb } in the replica's topology file (topologies/https.yaml does)";
  if (experiment.load.https)
    throw fieldError(
      loaded,
      ["load", "https"],
      `load over HTTPS on a plain-HTTP replica: ${replica} serves HTTP only`,
      suggestion,
    );
  const conditions = probesOf(experiment);
  for (const { probe, at } of conditions) {
    if (probe?.kind === "tls" && probe.address === undefined)
      throw fieldError(
        loaded,
        [...at, "tls"],
        `a TLS check on a plain-HTTP replica: ${replica} serves HTTP only, so there is no handshake to measure at endpoint ${probe.endpoint}`,
        `${suggestion}; or name a TLS server on this machine with address: (e.g. "127.0.0.1:8443")`,
      );
  }
}

/**
 * What an experiment file may be a stranger's (a pull request) cannot ask for: a replica name
 * that is a path, an HTTP probe off this machine, a command on this machine unless allowed from
 * outside the file. Checked here, not in the schema: recorded journals re-parse with the schema.
 */
function refuseOffMachine(loaded: LoadedExperiment, allowHostCommands: boolean): void {
  const { replica } = loaded.experiment;
  if (typeof replica === "string" && !isTopologyPath(replica) && !REPLICA_NAME.test(replica))
    throw fieldError(
      loaded,
      ["replica"],
      `expected a replica name of ${REPLICA_NAME_RULE}, or a topology file (a .yaml path), got "${replica}"`,
      "e.g. replica: pop-2, or replica: topologies/pop.yaml",
    );
  for (const { probe, at } of probesOf(loaded.experiment)) {
    if (probe?.kind === "http" && probe.url !== undefined && !onLoopback(probe.url))
      throw fieldError(
        loaded,
        [...at, "http", "url"],
        `expected a URL on this machine (127.0.0.1, localhost or [::1]): probes go nowhere else, got "${probe.url}"`,
        "probe the replica by endpoint: and path:, or a service of yours published on loopback",
      );
    if (probe?.kind === "command" && probe.in === undefined && !allowHostCommands)
      throw fieldError(
        loaded,
        [...at, "command"],
        `a command probe on this machine ("${probe.display}"): an experiment file can come from anyone (a pull request), so commands on the host need an opt-in from outside the file`,
        "run it in a replica service (command: { run: ..., in: edge-1 }), or allow it for this run: --allow-host-commands (or FAULTLINE_ALLOW_HOST_COMMANDS=1)",
      );
  }
}

/** An absolute URL whose host is a loopback address. */
function onLoopback(url: string): boolean {
  const host = URL.canParse(url) ? new URL(url).hostname : "";
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A DNS check looks up names in the replica's own DNS: without one (topology dns:) it could only fail. */
function refuseDnsWithoutDns(loaded: LoadedExperiment): void {
  if (loaded.topology?.dns) return;
  const { experiment } = loaded;
  const replica =
    typeof experiment.replica === "string" ? `replica "${experiment.replica}"` : "the attached stack";
  for (const { probe, at } of probesOf(experiment)) {
    if (probe?.kind === "dns")
      throw fieldError(
        loaded,
        [...at, "dns"],
        `a DNS check on a replica without its own DNS: ${replica} resolves names through the engine's resolver`,
        "give the replica's topology file dns: (topologies/dns.yaml does), and name it with replica:",
      );
  }
}

/**
 * With the topology known from the file, every fault's target must resolve in it (a PoP it
 * has, a link it proxies): a located error now rather than a refusal at run time.
 */
function checkTargets(loaded: LoadedExperiment, topology: Topology): void {
  const unknown = unknownPops(loaded.experiment, topology)[0];
  if (unknown) throw fieldError(loaded, unknown.at, unknown.message, unknown.suggestion);
  loaded.experiment.method.forEach((fault, index) => {
    const at = (path: PathKey[], action: () => void) => {
      try {
        action();
      } catch (error) {
        if (error instanceof InvalidInputError && !(error instanceof ValidationError))
          throw fieldError(loaded, path, error.message, error.suggestion);
        throw error;
      }
    };
    // An attached stack's real labels are known once its containers are found, at run time.
    if (fault.target.kind === "labels" && topology.attach && !Object.keys(topology.attach.containers).length)
      return;
    let services: string[] = [];
    at(["method", index, "target"], () => {
      services = resolveTarget(fault.target, topology, seededRandom(0));
    });
    for (const service of services)
      at(["method", index], () => kindOf(fault).check(fault, service, topology));
  });
}

/**
 * Probes that need Faultline's own replica (its Prometheus, Toxiproxy or stats endpoints) have
 * nothing to measure on an attached stack: a check without data would leave the run
 * inconclusive, so they are refused now, where they are written.
 */
function refuseUnavailableProbes(loaded: LoadedExperiment): void {
  const { experiment } = loaded;
  const conditions = probesOf(experiment);
  for (const { probe, at } of conditions) {
    if (probe?.kind === "promql")
      throw fieldError(
        loaded,
        [...at, "promql"],
        "not available with this config: promql queries Faultline's own Prometheus, which an attached stack does not have",
        "measure the stack through its entry point (metric checks, an http probe) or with a command probe in one of its services",
      );
    if (probe?.kind === "http" && probe.url === undefined && probe.endpoint !== "lb")
      throw fieldError(
        loaded,
        [...at, "http"],
        `not available with this config: an attached stack has no ${probe.endpoint} endpoint of Faultline's`,
        "use endpoint: lb (the stack's entry point), or url: on loopback",
      );
  }
}
