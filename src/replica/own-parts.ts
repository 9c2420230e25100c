import { createHash } from "node:crypto";
import { readFile, realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { z } from "zod";
import { fieldError, type LocatedDocument, type PathKey } from "../format/located-yaml.js";
import { edgeUpstream } from "./configs.js";
import { renderTemplate, type TemplateValues } from "./template.js";
import {
  LB_HTTP_PORT,
  LB_STATS_PORT,
  linkAddress,
  linkClients,
  linkTo,
  type OwnParts,
  POP_HEALTH_PATH,
  popViews,
  type Service,
  statsPageOf,
  type Topology,
} from "./topology.js";

// The user's own parts of a replica's services, from a topology file: an image (or a
// Dockerfile Faultline builds), a config template, env, command and the health endpoint
// Faultline waits on. Paths are relative to the topology file; every mistake is located.

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const port = z.number().int().min(1).max(65535);

/** The fields a service of a topology file may give to replace Faultline's own parts. */
export const ownFields = {
  image: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._/:@-]*$/, { message: "expected a Docker image name, e.g. my-haproxy:2.8" })
    .optional()
    .describe("a local image to run instead of Faultline's"),
  build: z
    .union([
      z.string().min(1),
      z.strictObject({ context: z.string().min(1), dockerfile: z.string().min(1).optional() }),
    ])
    .optional()
    .describe("a folder with a Dockerfile (or { context, dockerfile }) that Faultline builds"),
  config: z
    .union([
      z.string().min(1),
      z.strictObject({
        file: z.string().min(1),
        at: z.string().regex(/^\//, { message: "expected an absolute path in the container" }).optional(),
      }),
    ])
    .optional()
    .describe("your own config, a template with {{ placeholders }} (or { file, at: path in the container })"),
  env: z
    .record(
      z.string().regex(ENV_NAME, { message: "expected an environment variable name" }),
      z.union([z.string(), z.number(), z.boolean()]).transform(String),
    )
    .optional(),
  command: z
    .union([z.string().min(1), z.array(z.string()).min(1)])
    .optional()
    .describe("the container's command: a string runs through sh -c, a list as is"),
  health: z
    .strictObject({
      path: z.string().regex(/^\//, { message: "expected a path starting with /" }).default("/"),
      port: port.optional(),
    })
    .optional()
    .describe("the HTTP endpoint Faultline waits on (answering below 400) before the replica is up"),
};
const ownObject = z.strictObject(ownFields);
export type OwnSpec = z.infer<typeof ownObject>;

export const userServiceSchema = z.strictObject({
  ...ownFields,
  port: port.default(80).describe("the port it serves on (its links and health check use it)"),
});

export const linkBetweenSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,30}$/, { message: "expected a lowercase name of letters, digits and dashes" })
    .optional()
    .describe("the link's name, a fault target (default: the name of its `to` service)"),
  from: z
    .union([z.string(), z.array(z.string()).min(1)])
    .describe("who connects: a service, `edges`, or a list of them"),
  to: z.string().describe("the service it reaches (one of services:, or origin)"),
});

/** Where Faultline writes a config in its own images (Debian's paths). */
const DEFAULT_CONFIG_AT: Partial<Record<Service["role"], string>> = {
  lb: "/etc/haproxy/haproxy.cfg",
  global: "/etc/haproxy/haproxy.cfg",
  edge: "/etc/nginx/nginx.conf",
  origin: "/etc/nginx/nginx.conf",
  shield: "/etc/nginx/nginx.conf",
};

/**
 * A group of services that share one spec: the load balancer (or one PoP's), the global
 * layer, every edge, the origin, the shield, one service of the user's.
 */
export interface OwnGroup {
  path: PathKey[];
  services: string[];
  spec: OwnSpec;
  /** The name a built image carries, e.g. `faultline/<replica>.edge:own`. */
  tag: string;
}

/** The placeholders of one service's config template: its name, ports and links. */
export function templateValues(topology: Topology, service: Service): TemplateValues {
  const scalars: Record<string, string> = {
    name: service.name,
    listen: String(service.port ?? LB_HTTP_PORT),
  };
  for (const link of topology.links)
    if (linkClients(topology, link).includes(service.name))
      scalars[`upstream.${link.name}`] = linkAddress(link);
  const address = (target: string, fallback: string) => {
    const link = linkTo(topology, target);
    return link ? linkAddress(link) : fallback;
  };
  switch (service.role) {
    case "lb": {
      scalars["stats.listen"] = String(LB_STATS_PORT);
      const pop = popViews(topology).find((p) => p.lb === service.name);
      // A PoP's load balancer answers the global layer's health check on this path.
      if (pop?.name !== undefined) {
        scalars["pop.name"] = pop.name;
        scalars["pop.health"] = POP_HEALTH_PATH;
      }
      const edge = (pop?.edges ?? []).map((e) => ({ name: e, address: address(e, `${e}:80`) }));
      return { scalars, lists: { edge } };
    }
    case "global": {
      scalars["stats.listen"] = String(LB_STATS_PORT);
      // The path Faultline's PoP load balancers answer while they have an edge in rotation
      // (a scalar: a line using a list's field is repeated per PoP).
      scalars["pops.health"] = POP_HEALTH_PATH;
      // Each PoP as the global layer reaches it: its ingress link, through Toxiproxy.
      const pop = (topology.pops ?? []).map((p) => ({
        name: p.name,
        address: address(p.ingress, `${p.lb}:${LB_HTTP_PORT}`),
        weight: String(p.weight),
        backup: p.backup ? "backup" : "",
      }));
      return { scalars, lists: { pop } };
    }
    case "edge":
      scalars["origin.address"] = edgeUpstream(topology, service.name);
      break;
    case "shield":
      scalars["origin.address"] = address("origin", "origin:80");
      break;
    default:
      break;
  }
  return { scalars, lists: {} };
}

/** Checks a group's files, renders its configs and sets each service's own parts. */
export async function applyOwnGroup(
  topology: Topology,
  group: OwnGroup,
  doc: LocatedDocument,
): Promise<Topology> {
  const base = dirname(doc.file);
  const build = await buildOf(group, base, doc);
  const template = await templateOf(group, base, doc);
  const services = await Promise.all(
    topology.services.map(async (service): Promise<Service> => {
      if (!group.services.includes(service.name)) return service;
      const own: OwnParts = {
        ...(build ? { build } : {}),
        ...(group.spec.image !== undefined ? { image: true as const } : {}),
        ...(template ? { config: configFor(topology, service, template, group, doc) } : {}),
        ...(group.spec.env ? { env: group.spec.env } : {}),
        ...(group.spec.command ? { command: commandOf(group.spec.command) } : {}),
        ...healthOf(topology, service, group.spec),
      };
      // A load balancer's balance or healthCheck alone is Faultline's own config, set differently.
      if (Object.keys(own).length === 0 && group.spec.image === undefined) return service;
      const image = build ? group.tag : (group.spec.image ?? service.image);
      const publish = own.health ? [...new Set([...service.publish, own.health.port])] : service.publish;
      return { ...service, image, publish, own };
    }),
  );
  return { ...topology, services };
}

const commandOf = (command: string | string[]) =>
  typeof command === "string" ? ["sh", "-c", command] : command;

/**
 * The health endpoint: as given; for a load balancer (a PoP's, the global layer) whose config
 * has no stats page, GET / on its frontend: Faultline cannot read its view, only its answers.
 */
function healthOf(topology: Topology, service: Service, spec: OwnSpec): Pick<OwnParts, "health"> {
  if (!spec.health)
    return statsPageOf(topology, service.name) === false ? { health: { path: "/", port: LB_HTTP_PORT } } : {};
  return { health: { path: spec.health.path, port: spec.health.port ?? service.port ?? LB_HTTP_PORT } };
}

interface Template {
  file: string;
  shown: string;
  text: string;
  at: string | undefined;
}

function configFor(
  topology: Topology,
  service: Service,
  template: Template,
  group: OwnGroup,
  doc: LocatedDocument,
): NonNullable<OwnParts["config"]> {
  const at = template.at ?? DEFAULT_CONFIG_AT[service.role];
  if (!at)
    throw fieldError(
      doc,
      [...group.path, "config"],
      `expected config: { file: ${template.shown}, at: /path/in/the/container } (Faultline cannot know where ${service.name}'s image reads its config)`,
    );
  const pos = doc.locate?.([...group.path, "config"]) ?? { line: 1, column: 1 };
  const what = `${service.name}'s config (named at ${doc.file}:${pos.line}:${pos.column})`;
  return {
    source: template.shown,
    at,
    content: renderTemplate(template.shown, template.text, templateValues(topology, service), what),
  };
}

/**
 * A path the topology file names, resolved in `folder` (the topology file's, or a build
 * context): one outside it, absolute or through `..` or a symlink, is refused. A topology file
 * may come from someone else; it must not make Faultline copy the host's files into a container.
 */
async function pathInside(
  folder: string,
  name: string,
  at: { doc: LocatedDocument; path: PathKey[]; what: string },
): Promise<string> {
  const file = resolve(folder, name);
  const root = await realpath(folder).catch(() => folder);
  const rel = relative(root, await realpath(file).catch(() => file));
  if (isAbsolute(name) || rel === ".." || rel.startsWith("../") || isAbsolute(rel))
    throw fieldError(
      at.doc,
      at.path,
      `${name}: outside ${relative(process.cwd(), root) || root}; ${at.what} is read only from there or below`,
      "put it beside the topology file or in a folder below it, and name it by a relative path",
    );
  return file;
}

async function templateOf(
  group: OwnGroup,
  base: string,
  doc: LocatedDocument,
): Promise<Template | undefined> {
  const { config } = group.spec;
  if (config === undefined) return undefined;
  const name = typeof config === "string" ? config : config.file;
  const file = await pathInside(base, name, { doc, path: [...group.path, "config"], what: "a config" });
  const shown = relative(process.cwd(), file) || file;
  const text = await readFile(file, "utf8").catch((error: unknown) => {
    throw fieldError(
      doc,
      [...group.path, "config"],
      `${shown}: ${missing(error)} (the config is read relative to the topology file)`,
      "give the path of your config file, relative to the topology file",
    );
  });
  return { file, shown, text, at: typeof config === "string" ? undefined : config.at };
}

async function buildOf(
  group: OwnGroup,
  base: string,
  doc: LocatedDocument,
): Promise<OwnParts["build"] | undefined> {
  const { build } = group.spec;
  if (build === undefined) return undefined;
  const where = [...group.path, "build"];
  const what = { doc, path: where, what: "a build context" };
  const context = await pathInside(base, typeof build === "string" ? build : build.context, what);
  const dockerfile = typeof build === "string" ? "Dockerfile" : (build.dockerfile ?? "Dockerfile");
  const isDir = await stat(context).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir)
    throw fieldError(
      doc,
      where,
      `${relative(process.cwd(), context)}: no such folder (the build context, relative to the topology file)`,
    );
  const file = await pathInside(context, dockerfile, {
    ...what,
    what: "a Dockerfile (inside its build context)",
  });
  const isFile = await stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isFile)
    throw fieldError(
      doc,
      where,
      `${relative(process.cwd(), file)}: no such Dockerfile`,
      "put a Dockerfile in the build folder, or name it with build: { context, dockerfile }",
    );
  return { context, dockerfile };
}

function missing(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" ? "no such file" : `cannot read (${code ?? "unknown error"})`;
}

/** A short fingerprint of a service's own parts, for judging whether a running replica has them. */
export function ownFingerprint(own: OwnParts | undefined): string {
  if (!own) return "";
  return createHash("sha256").update(JSON.stringify(own)).digest("hex").slice(0, 12);
}
