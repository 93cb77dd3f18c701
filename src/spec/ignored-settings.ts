/**
 * Settings a valid spec holds that adsync will not use, said as warnings (`FILE:LINE:COL warning: …`) by
 * validate and plan: a setting someone relies on that silently does nothing is a scope accident waiting.
 *
 * - `ldap.baseDn` is the search base only when the scope names neither OUs nor domains (src/engine/desired.ts
 *   readRequestFor: the included OUs, else the domains' naming contexts, are the bases).
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { SpecProblem } from '../errors.js';
import { formatPath, Locator, type SpecPath } from './positions.js';

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {});
const nonEmpty = (v: unknown): boolean => Array.isArray(v) && v.length > 0;

/** Warnings for a spec's text (which is valid); `file` is used as given. */
export function ignoredSettings(text: string, file: string): SpecProblem[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) return [];
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch {
    return [];
  }
  const locator = new Locator(doc, lines);
  const out: SpecProblem[] = [];
  const sources = obj(data)['sources'];
  (Array.isArray(sources) ? sources : []).forEach((s, i) => {
    const ldap = obj(obj(s)['ldap']);
    if (ldap['baseDn'] === undefined) return;
    const scope = obj(obj(s)['scope']);
    const byOus = nonEmpty(obj(scope['ous'])['include']);
    const byDomains = nonEmpty(scope['domains']);
    if (!byOus && !byDomains) return;
    const path: SpecPath = ['sources', i, 'ldap', 'baseDn'];
    const { line, col } = locator.locate(path, 'key');
    const bases = byOus
      ? `the OUs in ${formatPath(['sources', i, 'scope', 'ous', 'include'])}`
      : `the domains in ${formatPath(['sources', i, 'scope', 'domains'])}`;
    out.push({
      file,
      line,
      col,
      message: `${formatPath(path)} is ignored: ${bases} are the search bases (remove baseDn, or add its OU to scope.ous.include)`,
    });
  });
  return out;
}

/** The warnings of the spec file at `path` (none when it can't be read: loading reports that). */
export async function ignoredSettingsOf(path: string): Promise<SpecProblem[]> {
  try {
    return ignoredSettings(await readFile(path, 'utf8'), path);
  } catch {
    return [];
  }
}
