import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

export interface SilentEngine {
  /** The unix socket to point DOCKER_HOST (or a client) at. */
  readonly socketPath: string;
  /** The test's own folder, removed with the server. */
  readonly dir: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections still open. */
  readonly open: ReadonlySet<Socket>;
}

/**
 * A Docker engine that accepts connections and never answers: a unix socket of the test
 * file's own, up for its tests, closed and removed afterwards.
 */
export function useSilentEngine(prefix: string): SilentEngine {
  let server: Server | undefined;
  const open = new Set<Socket>();
  const state = { socketPath: "", dir: "", accepted: 0, open };
  beforeAll(async () => {
    state.dir = mkdtempSync(join(tmpdir(), prefix));
    state.socketPath = join(state.dir, "docker.sock");
    server = createServer((socket) => {
      state.accepted++;
      open.add(socket);
      socket.on("data", () => {}); // read, never answer
      socket.on("close", () => open.delete(socket));
    });
    await new Promise<void>((resolve) => server?.listen(state.socketPath, resolve));
  });
  afterAll(async () => {
    try {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    } finally {
      rmSync(state.dir, { recursive: true, force: true });
    }
  });
  return state;
}
