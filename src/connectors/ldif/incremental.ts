/**
 * The LDIF source's incremental read: an export has no change log, so what tells a change is its content.
 * An export whose sha256 is the one the stored snapshot was parsed from needs no parsing.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** `sha256:<hex>` of the file, or undefined when it can't be read (the full read then says why, as always). */
export async function ldifDigest(path: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  } catch {
    return undefined;
  }
  return `sha256:${hash.digest('hex')}`;
}
