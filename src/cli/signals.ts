/**
 * SIGINT/SIGTERM abort the returned signal instead of killing the process, so the runner can
 * revert every fault before exiting. A second signal says that rollback is still under way.
 */
export function abortOnSignals(onFirst?: (signal: string) => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`${signal} again: still reverting faults; they will be gone in a moment\n`);
      return;
    }
    onFirst?.(signal);
    controller.abort(signal);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
