import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

/** Writes lines to a stream in ~64 KiB chunks, waiting when the stream asks (large plans stay in bounds). */
export async function writeLines(stream: Writable, lines: Iterable<string>): Promise<void> {
  let buf = '';
  for (const line of lines) {
    buf += `${line}\n`;
    if (buf.length >= 65536) {
      const ok = stream.write(buf);
      buf = '';
      if (!ok) await new Promise<void>((resolve) => stream.once('drain', resolve));
    }
  }
  if (buf) {
    const ok = stream.write(buf);
    if (!ok) await new Promise<void>((resolve) => stream.once('drain', resolve));
  }
}

export async function writeLinesToFile(path: string, lines: Iterable<string>): Promise<void> {
  const stream = createWriteStream(path, { mode: 0o644 });
  const closed = new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('finish', resolve);
  });
  await writeLines(stream, lines);
  stream.end();
  await closed;
}
