import { docker } from "./docker.js";

export interface ExecResult {
  exitCode: number;
  output: string;
}

/** Docker multiplexes stdout/stderr with 8-byte frame headers when no TTY is attached. */
export function demuxDockerStream(buffer: Buffer): string {
  const out: string[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    out.push(buffer.subarray(offset + 8, offset + 8 + size).toString("utf8"));
    offset += 8 + size;
  }
  return out.join("");
}

/** Runs a command inside a running container and waits for it (output and exit code). */
export async function execIn(container: string, cmd: string[]): Promise<ExecResult> {
  const exec = await docker()
    .getContainer(container)
    .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, output: demuxDockerStream(Buffer.concat(chunks)).trim() };
}

/** Starts a command inside a running container and returns at once; it outlives the call. */
export async function execDetached(container: string, cmd: string[]): Promise<void> {
  const exec = await docker().getContainer(container).exec({ Cmd: cmd });
  await exec.start({ Detach: true });
}
