/**
 * Files adsync writes for the user (`plan --out`): never over something that is not a plan (a typo'd
 * `--out adsync.yaml` or the tenant's state file), and never half-written (a temp file renamed into place).
 */
import { open, rename, stat, unlink } from 'node:fs/promises';
import { AdsyncError, describeFsError } from '../errors.js';

/** How every saved plan begins (src/render/json.ts; `plan --format json` and `plan --json` too). */
const PLAN_HEAD = /^\s*\{\s*"formatVersion"\s*:\s*1\s*,\s*"tool"\s*:\s*\{\s*"name"\s*:\s*"adsync"/;

/** The reason `path` must not be overwritten by a plan, or undefined when it is absent, empty or a plan. */
export async function notAPlan(path: string): Promise<string | undefined> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return `cannot check it: ${code ?? String(err)}`;
  }
  if (st.isDirectory()) return 'it is a directory';
  if (!st.isFile()) return 'it is not a regular file';
  if (st.size === 0) return undefined;
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return PLAN_HEAD.test(buf.subarray(0, bytesRead).toString('utf8'))
      ? undefined
      : 'it exists and is not an adsync plan';
  } finally {
    await fh.close();
  }
}

/** Writes a plan's lines to `path` atomically, refusing to replace a file that is not a plan. */
export async function writePlanFile(path: string, lines: Iterable<string>): Promise<void> {
  const reason = await notAPlan(path);
  if (reason !== undefined) {
    throw new AdsyncError('plan_out_exists', `refusing to write the plan to ${path}: ${reason}`, {
      hint: 'choose another --out path (adsync only replaces an earlier saved plan)',
    });
  }
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      // ~64 KiB writes, each awaited: a failure (a full disk) surfaces here, not as a stray stream error.
      let buf = '';
      for (const line of lines) {
        buf += `${line}\n`;
        if (buf.length >= 65536) {
          await fh.writeFile(buf);
          buf = '';
        }
      }
      if (buf) await fh.writeFile(buf);
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new AdsyncError('plan_write', `cannot write the plan to ${path}: ${describeFsError(err)}`, {
      hint: 'check the directory exists, is writable and has free space',
    });
  }
}

/**
 * How deeply a JSON text nests (brackets outside strings), without parsing it: a hostile file nested a
 * million levels deep must be refused before anything recurses over it.
 */
export function jsonDepth(text: string, limit: number): { depth: number; offset: number } | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return { depth, offset: i };
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}
