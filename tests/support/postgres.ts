import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./compose-pop.js";

// A PostgreSQL server of a test's own: a new cluster in a temporary folder, on a free port of
// 127.0.0.1, trusting local connections, stopped and removed by `stop()`. PostgreSQL refuses
// to run as root, so as root the server runs as the `postgres` user.

export class PostgresServer {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** postgres://fl@127.0.0.1:PORT/DATABASE */
  url(database = "postgres"): string {
    return `postgres://fl@127.0.0.1:${this.port}/${database}`;
  }

  static async start(): Promise<PostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), "faultline-pg-"));
    const port = await freePort();
    const server = new PostgresServer(dir, port);
    try {
      if (process.getuid?.() === 0) chownSync(dir, uid("postgres"), gid("postgres"));
      server.as(["initdb", "-D", join(dir, "data"), "-A", "trust", "-U", "fl", "--no-sync"]);
      server.as([
        "pg_ctl",
        "-D",
        join(dir, "data"),
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        "-l",
        join(dir, "log"),
        "-w",
        "start",
      ]);
      return server;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** A new, empty database; its URL. */
  async database(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  stop(): void {
    try {
      this.as(["pg_ctl", "-D", join(this.dir, "data"), "-m", "immediate", "-w", "stop"]);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private as(command: string[]): void {
    const quoted = command.map((c) => `'${c.replaceAll("'", "'\\''")}'`).join(" ");
    const root = process.getuid?.() === 0;
    execFileSync(root ? "su" : "sh", root ? ["postgres", "-s", "/bin/sh", "-c", quoted] : ["-c", quoted], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
  }
}

const idOf = (flag: "-u" | "-g", user: string) =>
  Number(execFileSync("id", [flag, user], { encoding: "utf8" }).trim());
const uid = (user: string) => idOf("-u", user);
const gid = (user: string) => idOf("-g", user);
