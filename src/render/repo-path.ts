import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, sep } from 'node:path';

/**
 * A file as a reviewer of the repository reads it: relative to the repository root (the nearest directory
 * up with a `.git`), never the runner's absolute path; outside a repository, `shown` if it is relative,
 * else the file name.
 */
export function repoRelativePath(absolute: string, shown: string): string {
  for (let dir = dirname(absolute); ; dir = dirname(dir)) {
    if (existsSync(`${dir}${sep}.git`)) return relative(dir, absolute).split(sep).join('/');
    if (dirname(dir) === dir) break;
  }
  return isAbsolute(shown) ? basename(absolute) : shown;
}
