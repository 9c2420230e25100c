// A tar archive of one file, as the engine's "put archive" call takes it (ustar: a 512-byte
// header, the content padded to 512 bytes, two empty blocks). Enough to write a config into
// a container before it starts, whatever its image has.

const BLOCK = 512;

function field(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value.slice(0, length), offset, length, "utf8");
}

const octal = (value: number, length: number) => `${value.toString(8).padStart(length - 1, "0")}\0`;

/** `path` is the file's path inside the archive (no leading slash), at most 100 bytes. */
export function tarOneFile(path: string, content: string, mode = 0o644): Buffer {
  const name = path.replace(/^\/+/, "");
  if (Buffer.byteLength(name) > 100) throw new Error(`path too long for a tar header: ${path}`);
  const body = Buffer.from(content, "utf8");
  const header = Buffer.alloc(BLOCK);
  field(header, 0, 100, name);
  field(header, 100, 8, octal(mode, 8));
  field(header, 108, 8, octal(0, 8));
  field(header, 116, 8, octal(0, 8));
  field(header, 124, 12, octal(body.length, 12));
  field(header, 136, 12, octal(Math.floor(Date.now() / 1000), 12));
  field(header, 148, 8, "        ");
  field(header, 156, 1, "0");
  field(header, 257, 6, "ustar\0");
  field(header, 263, 2, "00");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(header, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  const padding = Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK);
  return Buffer.concat([header, body, padding, Buffer.alloc(2 * BLOCK)]);
}
