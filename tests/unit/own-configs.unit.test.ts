import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { extract } from "tar-stream";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { loadExperiment } from "../../src/experiments/loader.js";
import { planFaults } from "../../src/experiments/plan.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { templateValues } from "../../src/replica/own-parts.js";
import { tarOneFile } from "../../src/replica/tar.js";
import { renderTemplate } from "../../src/replica/template.js";
import { linkClients } from "../../src/replica/topology.js";
import { loadTopology, topologySchema } from "../../src/replica/topology-file.js";
import { tempDir } from "../support/temp.js";
import { topologyError, topologyFiles } from "../support/topology-files.js";
import { validationMessage } from "../support/validation.js";

const EXAMPLE = "examples/own-configs/topology.yaml";
const problems = (yaml: string): string =>
  validationMessage(() => parseYamlWithSchema("t.yaml", yaml, topologySchema));

/** A topology file and the files it names, in a folder of their own. */

describe("config templates", () => {
  const values = {
    scalars: { listen: "80", "stats.listen": "8405" },
    lists: {
      edge: [
        { name: "a", address: "toxiproxy:20001" },
        { name: "b", address: "toxiproxy:20002" },
      ],
    },
  };

  it("fills placeholders and repeats a line that uses a list once per item", () => {
    const text = "bind :{{ listen }}\n  server {{ edge.name }} {{edge.address}} check\nend";
    expect(renderTemplate("h.cfg", text, values, "lb's config")).toBe(
      "bind :80\n  server a toxiproxy:20001 check\n  server b toxiproxy:20002 check\nend",
    );
  });

  it("an unknown placeholder is located in the template, with the valid ones and a suggestion", () => {
    const error = (() => {
      try {
        renderTemplate("h.cfg", "global\n  bind :{{ lisen }}\n", values, "lb's config");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    const v = error as ValidationError;
    expect(v.message).toContain("h.cfg:2:9 unknown placeholder {{ lisen }} in lb's config");
    expect(v.message).toContain(
      "valid here: {{ edge.address }}, {{ edge.name }}, {{ listen }}, {{ stats.listen }}",
    );
    expect(v.suggestion).toContain("did you mean {{ listen }}?");
  });
});

describe("topology files with the user's own parts", () => {
  it("the example: the user's configs rendered with the addresses behind Toxiproxy, an own service and its link", async () => {
    const topology = await loadTopology(EXAMPLE);
    const lb = topology.services.find((s) => s.name === "lb");
    expect(lb?.own?.config?.at).toBe("/etc/haproxy/haproxy.cfg");
    expect(lb?.own?.config?.content).toContain("  server edge-2 toxiproxy:20002 check");
    expect(lb?.own?.config?.content).toContain("bind :8405");
    expect(topology.lbStats).toEqual({ path: "/stats", backend: "edges" });
    const edge = topology.services.find((s) => s.name === "edge-3");
    expect(edge?.own?.config?.content).toContain("add_header X-Edge edge-3 always;");
    expect(edge?.own?.config?.content).toContain("upstream app { server toxiproxy:23001;");
    expect(edge?.own?.health).toEqual({ path: "/healthz", port: 80 });
    expect(edge?.publish).toEqual([80]);
    const app = topology.services.find((s) => s.name === "app");
    expect(app).toMatchObject({ role: "service", port: 8080, image: "faultline/own-configs.app:own" });
    expect(app?.own?.build?.context).toMatch(/examples\/own-configs\/app$/);
    expect(app?.own?.env).toEqual({ APP_TIER: "example" });
    const link = topology.links.find((l) => l.name === "app");
    expect(link).toMatchObject({ listenPort: 23001, upstream: { service: "app", port: 8080 } });
    expect(link && linkClients(topology, link)).toEqual(["edge-1", "edge-2", "edge-3"]);
    expect(app && Object.keys(templateValues(topology, app).scalars)).toEqual(["name", "listen"]);
  });

  it("plan and faults on an own service and its link", async () => {
    const dir = tempDir("faultline-own-");
    const experiment = join(dir, "e.yaml");
    writeFileSync(
      experiment,
      `version: 1\nname: app-faults\nreplica: default\nload: { rate: 10/s }\nsteadyState: { checks: [{ metric: errors.rate, below: 5% }] }\nmethod:\n  - { fault: latency, target: app, latency: 100ms, for: 5s }\n  - { fault: node-kill, target: app, at: 6s, for: 5s }\n`,
    );
    const loaded = await loadExperiment(experiment, { topology: EXAMPLE });
    const plan = planFaults(loaded.experiment, loaded.topology ?? (await loadTopology(EXAMPLE)), 1);
    expect(plan.actions.map((a) => a.description)).toEqual([
      expect.stringContaining("on link app"),
      expect.stringContaining("kill app"),
    ]);
  });

  it("a missing config file or Dockerfile is located at the field that names it", async () => {
    const noConfig = await topologyError(
      topologyFiles("version: 1\nname: x\nedges: 2\nloadBalancer:\n  config: nope.cfg\n"),
    );
    expect(noConfig.message).toMatch(/topology\.yaml:5:11 loadBalancer\.config: .*nope\.cfg: no such file/);
    const noDockerfile = await topologyError(
      topologyFiles("version: 1\nname: x\nedges: 2\nservices:\n  app: { build: app }\n", {
        "app/README": "x",
      }),
    );
    expect(noDockerfile.message).toMatch(
      /topology\.yaml:5:17 services\.app\.build: .*app\/Dockerfile: no such Dockerfile/,
    );
    const noFolder = await topologyError(
      topologyFiles("version: 1\nname: x\nedges: 2\nedge:\n  build: gone\n"),
    );
    expect(noFolder.message).toMatch(/edge\.build: .*gone: no such folder/);
  });

  it("refuses paths outside the topology file's folder: absolute, through .., or a Dockerfile outside its context", async () => {
    const absolute = await topologyError(
      topologyFiles("version: 1\nname: x\nedges: 2\nloadBalancer:\n  config: /etc/passwd\n"),
    );
    expect(absolute.message).toMatch(
      /loadBalancer\.config: \/etc\/passwd: outside .*a config is read only from there or below/,
    );
    const parent = await topologyError(topologyFiles("version: 1\nname: x\nedges: 2\nedge:\n  build: ..\n"));
    expect(parent.message).toMatch(/edge\.build: \.\.: outside /);
    const dockerfile = await topologyError(
      topologyFiles(
        "version: 1\nname: x\nedges: 2\nservices:\n  app: { build: { context: app, dockerfile: ../Dockerfile } }\n",
        {
          "app/x": "x",
          Dockerfile: "FROM scratch\n",
        },
      ),
    );
    expect(dockerfile.message).toMatch(
      /services\.app\.build: \.\.\/Dockerfile: outside .*inside its build context/,
    );
    expect(absolute.suggestion).toMatch(/relative path/);
  });

  it("an unknown placeholder in the user's config is located in the config, naming the topology field", async () => {
    const error = await topologyError(
      topologyFiles("version: 1\nname: x\nedges: [a, b]\nedge:\n  config: edge.conf\n", {
        "edge.conf": "http {\n  server {\n    proxy_pass http://{{ upstream.orign }};\n  }\n}\n",
      }),
    );
    expect(error.message).toMatch(
      /edge\.conf:3:23 unknown placeholder \{\{ upstream\.orign \}\} in a's config \(named at .*topology\.yaml:5:11\)/,
    );
    expect(error.message).toContain("{{ origin.address }}");
    expect(error.suggestion).toContain("did you mean {{ upstream.origin }}?");
  });

  it("refuses settings the user's config would ignore, an image and a build, and links to nothing", () => {
    const message = problems(`version: 1
name: x
edges: 2
loadBalancer:
  config: h.cfg
  healthCheck: { interval: 300ms }
edge: { image: mine, build: there }
services:
  app: { port: 8080 }
links:
  between:
    - { from: edges, to: cache }
    - { from: [lb, nobody], to: app }
`);
    expect(message).toContain(
      "t.yaml:6:16 loadBalancer.healthCheck: expected healthCheck only with Faultline's own HAProxy config",
    );
    expect(message).toContain("edge.build: expected image (yours, on this engine) or build");
    expect(message).toContain("services.app: expected image: or build: for app");
    expect(message).toContain(
      'links.between[0].to: expected one of your services (app) or origin, got "cache"',
    );
    expect(message).toContain("links.between[1].from[1]: expected a client other than its target");
    expect(problems("version: 1\nname: x\nedges: 2\nloadBalancer: { stats: { path: /s } }\n")).toContain(
      "loadBalancer.stats: expected stats only with your own config",
    );
  });

  it("a user config without a stats page: the LB's view is not available, up waits on GET / instead", async () => {
    const topology = await loadTopology(
      topologyFiles("version: 1\nname: x\nedges: 2\nloadBalancer: { config: h.cfg }\n", {
        "h.cfg":
          "frontend www\n  bind :{{ listen }}\n  default_backend edges\nbackend edges\n  server {{ edge.name }} {{ edge.address }} check\n",
      }),
    );
    expect(topology.lbStats).toBe(false);
    expect(topology.services.find((s) => s.name === "lb")?.own?.health).toEqual({ path: "/", port: 80 });
  });
});

describe("the one-file tar archive", () => {
  it("holds the one file at its path inside the container, with its content and mode", async () => {
    const archive = await tarOneFile("/etc/haproxy/haproxy.cfg", "global\n");
    const entries: { name: string; mode: number | undefined; body: string }[] = [];
    const reader = extract();
    reader.on("entry", (header, stream, next) => {
      let body = "";
      stream.on("data", (chunk: unknown) => {
        body += String(chunk);
      });
      stream.on("end", () => {
        entries.push({ name: header.name, mode: header.mode, body });
        next();
      });
    });
    const done = new Promise<void>((resolve) => reader.on("finish", () => resolve()));
    reader.end(archive);
    await done;
    expect(entries).toEqual([{ name: "etc/haproxy/haproxy.cfg", mode: 0o644, body: "global\n" }]);
  });
});
