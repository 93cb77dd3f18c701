/**
 * Secrets in the wrong place. A spec holds secrets only as references ({ env: NAME } or { file: PATH }), so
 * a password pasted elsewhere — inside a URL (`ldaps://admin:pass@dc`), as an `env:` name, as a `file:`
 * path — must be refused without being printed back: problems name the place, never the value.
 *
 * The heuristics, documented in the README (Secrets):
 * - a URL with user information (`scheme://user@host` or `scheme://user:password@host`) is refused;
 * - an `env:` reference must be a variable name (^[A-Za-z_][A-Za-z0-9_]*$), else the value is not shown;
 * - a `file:` path that can't be read is named only when it looks like a path (it has a / or \).
 */
import type { SpecPath } from './positions.js';
import { formatPath } from './positions.js';
import type { PathProblem } from './schema-problems.js';

const USERINFO = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#\s]*@/;

/** True when `url` carries credentials (or a user name) before its host. */
export function urlHasCredentials(url: string): boolean {
  return USERINFO.test(url.trim());
}

/** `url` with any user information cut out, for messages. */
export function withoutCredentials(url: string): string {
  return url.trim().replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#\s]*@/, '$1***@');
}

/** A `file:` secret path may be printed: it looks like a path, not like a pasted password. */
export function looksLikePath(path: string): boolean {
  return /[/\\]/.test(path);
}

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every string in the spec that is a URL with credentials. */
export function credentialsInUrls(spec: unknown): PathProblem[] {
  const out: PathProblem[] = [];
  const walk = (v: unknown, path: SpecPath): void => {
    if (typeof v === 'string') {
      if (urlHasCredentials(v)) {
        const fix = path.includes('ldap')
          ? 'put the account in ldap.bindDn and the password in ldap.password as { env: NAME } or { file: PATH }'
          : 'remove them: credentials are given by reference ({ env: NAME } or { file: PATH }) in their own settings';
        out.push({
          path,
          at: 'value',
          message: `${formatPath(path)} holds credentials in the URL (user:password@host; not shown): ${fix}`,
        });
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(spec, []);
  return out;
}
