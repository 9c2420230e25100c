import { pack } from "tar-stream";

// A tar archive of one file, as the engine's "put archive" call takes it: enough to write a
// config into a container before it starts, whatever its image has. tar-stream writes it.

/** `path` is the file's path inside the container (its leading slash dropped in the archive). */
export async function tarOneFile(path: string, content: string, mode = 0o644): Promise<Buffer> {
  const archive = pack();
  archive.entry({ name: path.replace(/^\/+/, ""), mode }, content);
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) {
    if (!Buffer.isBuffer(chunk)) throw new Error("tar-stream yielded a chunk that is not a Buffer");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
