import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { release } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { errorMessage } from "../errors.js";
import {
  describeHistory,
  historyLocation,
  isSharedHistory,
  openHistory,
  readHistory,
} from "../history/open.js";
import { readLedger } from "../lifecycle/ledger.js";
import { assertNotLocked } from "../lifecycle/lock.js";
import { stateDir } from "../lifecycle/state.js";
import { engine } from "../replica/engine.js";
import { imageFor } from "../replica/topology.js";
import { serverHealth } from "../scale/temporal-cli.js";
import { VegetaDriver } from "../steady-state/vegeta.js";

// `faultline doctor`: everything a run needs from this machine, each problem with its fix.
// A "fail" stops runs (exit 4); a "warn" limits something without stopping them.

const execFileAsync = promisify(execFile);

export type Status = "ok" | "warn" | "fail";
export interface Finding {
  check: string;
  status: Status;
  detail: string;
  fix?: string;
}

const MIN_API = [1, 41] as const;
const SETUP = "run scripts/setup.sh (idempotent; on Debian as root it installs what is missing)";

function apiAtLeast(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > MIN_API[0] || (major === MIN_API[0] && minor >= MIN_API[1]);
}

async function checkEngine(): Promise<{ finding: Finding; up: boolean }> {
  const where = engine().address;
  try {
    await engine().ping();
    const v = await engine().version();
    const ok = apiAtLeast(v.ApiVersion);
    return {
      up: true,
      finding: {
        check: "docker engine",
        status: ok ? "ok" : "fail",
        detail: `Docker ${v.Version}, API ${v.ApiVersion} at ${where}`,
        ...(ok ? {} : { fix: `Faultline needs Docker API ${MIN_API.join(".")} or later (Docker 20.10+)` }),
      },
    };
  } catch (error) {
    return {
      up: false,
      finding: {
        check: "docker engine",
        status: "fail",
        detail: `no engine answers at ${where} (${errorMessage(error)})`,
        fix: `${SETUP}; or start Docker (\`nohup dockerd >/var/log/dockerd.log 2>&1 &\`)`,
      },
    };
  }
}

async function checkImages(engineUp: boolean): Promise<Finding> {
  const wanted = (["origin", "edge", "lb", "prometheus", "toxiproxy", "netfilter"] as const).map(imageFor);
  if (!engineUp)
    return { check: "replica images", status: "fail", detail: "not checked: no Docker engine", fix: SETUP };
  const present = new Set((await engine().listImages()).flatMap((i) => i.RepoTags ?? []));
  const missing = wanted.filter((image) => !present.has(image));
  return missing.length
    ? {
        check: "replica images",
        status: "fail",
        detail: `missing ${missing.join(", ")}`,
        fix: `${SETUP}: it builds them from docker/ (no registry needed)`,
      }
    : { check: "replica images", status: "ok", detail: `${wanted.length} images (faultline/*:local)` };
}

async function checkLoadDriver(): Promise<Finding> {
  const driver = new VegetaDriver();
  try {
    const version = await driver.version();
    return {
      check: "load generator",
      status: "ok",
      detail: `faultline-load on vegeta ${version} (k6 is not used: see docs/design.md)`,
    };
  } catch (error) {
    return {
      check: "load generator",
      status: "fail",
      detail: errorMessage(error),
      fix: `${SETUP}, or set FAULTLINE_LOADGEN to a faultline-load binary`,
    };
  }
}

async function checkToxiproxy(): Promise<Finding> {
  if (process.env.FAULTLINE_TOXIPROXY_IMAGE)
    return { check: "toxiproxy", status: "ok", detail: `image ${process.env.FAULTLINE_TOXIPROXY_IMAGE}` };
  const binary = fileURLToPath(new URL("../../.tools/bin/toxiproxy-server", import.meta.url));
  try {
    const { stdout } = await execFileAsync(binary, ["-version"]);
    return { check: "toxiproxy", status: "ok", detail: `${stdout.trim()} (built into faultline/toxiproxy)` };
  } catch {
    return {
      check: "toxiproxy",
      status: "warn",
      detail: `no toxiproxy-server at ${binary}; an image built earlier still works`,
      fix: `${SETUP} to rebuild the faultline/toxiproxy image`,
    };
  }
}

function checkNetem(): Finding {
  const kernel = release();
  const loaded = existsSync("/sys/module/sch_netem");
  const modules = join("/lib/modules", kernel, "kernel/net/sched");
  const available =
    loaded || (existsSync(modules) && readdirSync(modules).some((f) => f.startsWith("sch_netem")));
  return available
    ? { check: "netem", status: "ok", detail: `sch_netem available in kernel ${kernel}` }
    : {
        check: "netem",
        status: "warn",
        detail: `no sch_netem in kernel ${kernel}: packet-loss uses the iptables backend (statistic match)`,
        fix: "nothing to do for packet loss; load sch_netem (modprobe sch_netem) for the netem backend",
      };
}

function checkLoopback(): Promise<Finding> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (error) =>
      resolve({
        check: "loopback ports",
        status: "fail",
        detail: `cannot listen on 127.0.0.1 (${error.message})`,
        fix: "replicas publish their endpoints on free 127.0.0.1 ports: free some, or check the loopback interface",
      }),
    );
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        resolve({
          check: "loopback ports",
          status: "ok",
          detail: `free ports on 127.0.0.1 (e.g. ${typeof address === "object" && address ? address.port : "?"}); replicas pick theirs at start`,
        }),
      );
    });
  });
}

async function checkRunsDir(runsDir: string, given: string | undefined): Promise<Finding> {
  const location = historyLocation(given, runsDir);
  const where = describeHistory(location);
  try {
    if (existsSync(runsDir)) accessSync(runsDir, constants.W_OK);
    // Reading only: doctor creates no file and no table. Without a history yet, check that SQLite loads.
    const history = await readHistory(location);
    if (!history) {
      if (!isSharedHistory(location)) await (await openHistory(":memory:")).close();
      return {
        check: "runs and history",
        status: "ok",
        detail: `no history yet at ${where} (the first run creates it)${isSharedHistory(location) ? "; the server answers" : "; SQLite loads"}`,
      };
    }
    try {
      return {
        check: "runs and history",
        status: "ok",
        detail: `${where} holds ${await history.count()} run(s)`,
      };
    } finally {
      await history.close();
    }
  } catch (error) {
    return {
      check: "runs and history",
      status: "fail",
      detail: errorMessage(error).includes(where) ? errorMessage(error) : `${where}: ${errorMessage(error)}`,
      fix: "make the runs folder writable, start the history's PostgreSQL server or correct --history, or pass --no-history to runs",
    };
  }
}

function checkLeftovers(): Finding {
  const root = join(stateDir("x"), "..");
  const replicas = existsSync(root) ? readdirSync(root) : [];
  const pending = replicas.flatMap((replica) => {
    try {
      assertNotLocked(replica);
    } catch {
      return []; // a live run holds it: its ledger entries are not leftovers
    }
    const { entries, unreadable } = readLedger(replica);
    const count = entries.length + unreadable.length;
    return count ? [`${replica} (${count})`] : [];
  });
  return pending.length
    ? {
        check: "crashed runs",
        status: "warn",
        detail: `fault ledger entries left by runs that did not finish: ${pending.join(", ")}`,
        fix: "run `faultline recover --replica NAME` for each (a run refuses such a replica until then)",
      }
    : { check: "crashed runs", status: "ok", detail: "no fault left in any ledger" };
}

function checkBrowser(): Finding {
  return existsSync("/usr/bin/chromium")
    ? { check: "chromium", status: "ok", detail: "/usr/bin/chromium (HTML report tests)" }
    : {
        check: "chromium",
        status: "warn",
        detail: "no /usr/bin/chromium: only the HTML report's browser test needs it",
        fix: "apt-get install -y chromium (scripts/setup.sh does)",
      };
}

function checkNode(): Finding {
  const major = Number(process.versions.node.split(".")[0]);
  return major >= 20
    ? { check: "node", status: "ok", detail: `Node.js ${process.versions.node}` }
    : {
        check: "node",
        status: "fail",
        detail: `Node.js ${process.versions.node}`,
        fix: "install Node.js 20 or later",
      };
}

/** The Temporal server of the scale-out engine, when one is named; runs in process need none. */
async function checkTemporal(address: string | undefined): Promise<Finding> {
  const check = "temporal";
  if (!address) return { check, status: "ok", detail: "not used (runs in process need no server)" };
  try {
    const health = await serverHealth(address);
    return health.ok
      ? { check, status: "ok", detail: `server on ${address} answers (SERVING)` }
      : {
          check,
          status: "fail",
          detail: `no server answers on ${address}: ${health.reason}`,
          fix: "start one (`faultline temporal dev`) or correct --temporal / FAULTLINE_TEMPORAL",
        };
  } catch (error) {
    return {
      check,
      status: "fail",
      detail: errorMessage(error),
      fix: "run `bash scripts/setup.sh --temporal`",
    };
  }
}

/** The workers of the named engines, once the server answers: one each, polling now. */
async function checkWorkers(address: string | undefined, engines: readonly string[]): Promise<Finding[]> {
  if (!address || !(await serverHealth(address).catch(() => ({ ok: false }))).ok) return [];
  // Loaded only here: doctor without --temporal never loads Temporal's SDK.
  const { connectTemporal, workersOf } = await import("../scale/temporal-client.js");
  const client = await connectTemporal(address);
  try {
    const findings: Finding[] = [];
    for (const engine of engines) {
      const workers = await workersOf(client, engine);
      findings.push(
        workers.length > 0
          ? { check: `worker ${engine}`, status: "ok", detail: workers.map((w) => w.identity).join(", ") }
          : {
              check: `worker ${engine}`,
              status: "warn",
              detail: `no worker polls faultline-engine-${engine}: game days for it wait`,
              fix: `start one where that engine runs: faultline worker --engine ${engine}`,
            },
      );
    }
    return findings;
  } finally {
    await client.connection.close();
  }
}

export async function runDoctor(options: {
  runsDir: string;
  history?: string | undefined;
  temporal?: string | undefined;
  /** With temporal: the engines whose workers are checked (default: local). */
  engines?: readonly string[] | undefined;
}): Promise<Finding[]> {
  const engine = await checkEngine();
  return [
    checkNode(),
    engine.finding,
    await checkImages(engine.up),
    await checkLoadDriver(),
    await checkToxiproxy(),
    checkNetem(),
    await checkLoopback(),
    await checkRunsDir(options.runsDir, options.history),
    await checkTemporal(options.temporal),
    ...(await checkWorkers(options.temporal, options.engines ?? ["local"])),
    checkLeftovers(),
    checkBrowser(),
  ];
}
