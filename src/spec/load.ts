/**
 * Loading adsync.yaml: YAML with positions → JSON Schema (ajv) → semantic rules → defaults. Every problem is
 * reported at once, sorted by position, as a SpecError whose problems print as `FILE:LINE:COL message`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { AdsyncError, SpecError, type SpecProblem } from '../errors.js';
import { normalizeSpec } from './normalize.js';
import { Locator } from './positions.js';
import { semanticProblems } from './rules.js';
import { schemaValidator } from './schema.js';
import { schemaProblems, type PathProblem } from './schema-problems.js';
import type { Spec } from './types.js';

export function sortProblems(problems: SpecProblem[]): SpecProblem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
}

/** Every problem in a spec's text, sorted by position; empty when the spec is valid. `file` is used as given. */
export function checkSpecText(
  text: string,
  file: string,
): { problems: SpecProblem[]; data: unknown; warnings?: SpecProblem[] } {
  const lines = new LineCounter();
  // The yaml package's own duplicate-key check scans the mapping for every key (quadratic): ours uses a set.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const locator = new Locator(doc, lines);
  const problems: SpecProblem[] = [];
  let syntaxBroken = false;
  for (const err of doc.errors) {
    const { line, col } = locator.at(err.pos[0]);
    syntaxBroken = true;
    problems.push({
      file,
      line,
      col,
      message: `YAML syntax error: ${err.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '')}`,
    });
  }
  for (const offset of duplicateKeyOffsets(doc)) {
    const { line, col } = locator.at(offset);
    const key = keyAt(text, offset);
    problems.push({
      file,
      line,
      col,
      message: `duplicate key${key ? ` '${key}'` : ''}: each key may appear once in a mapping`,
    });
  }
  // A document that didn't parse would only produce misleading schema errors: report the syntax first.
  if (syntaxBroken) return { problems: sortProblems(problems), data: undefined };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias whose anchor is missing or comes later (`*x`), or an alias bomb: at the first alias to blame.
    const { line, col } = locator.at(aliasOffset(doc));
    problems.push({
      file,
      line,
      col,
      message: `YAML alias error: ${(err as Error).message.replace(/:\s*[\s\S]*$/, '').replace(/\.$/, '')}`,
    });
    return { problems: sortProblems(problems), data: undefined };
  }
  if (data === null || data === undefined) {
    problems.push({
      file,
      line: 1,
      col: 1,
      message: 'the spec is empty: it needs at least version, sources and target',
    });
    return { problems: sortProblems(problems), data };
  }
  const validate = schemaValidator();
  const pathProblems: PathProblem[] = [];
  if (!validate(data)) pathProblems.push(...schemaProblems(validate.errors ?? []));
  pathProblems.push(...semanticProblems(data));
  const warnings: SpecProblem[] = [];
  for (const p of pathProblems) {
    const { line, col } = locator.locate(p.path, p.at);
    if (p.warning) {
      warnings.push({ file, line, col, message: p.message });
      continue;
    }
    let message = p.message;
    if (p.related !== undefined) {
      const other = locator.locate(p.related, 'key');
      message = message.replace('{related}', `${file}:${other.line}:${other.col}`);
    }
    problems.push({ file, line, col, message });
  }
  return {
    problems: sortProblems(dedupe(problems)),
    data,
    ...(warnings.length > 0 ? { warnings: sortProblems(warnings) } : {}),
  };
}

function dedupe(problems: SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.line}:${p.col} ${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Where each repeated key of a mapping starts (the yaml package's equality: the same node or equal scalar values). */
function duplicateKeyOffsets(doc: Document): number[] {
  const out: number[] = [];
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(k)) {
          const range = (pair.key as { range?: [number, number, number] } | null)?.range;
          out.push(range?.[0] ?? map.range?.[0] ?? 0);
        } else seen.add(k);
      }
    },
  });
  return out;
}

/** Where the first alias that doesn't resolve starts, else the first alias (an alias bomb), else 0. */
function aliasOffset(doc: Document): number {
  let first: number | undefined;
  let unresolved: number | undefined;
  visit(doc, {
    Alias(_, alias) {
      const at = alias.range?.[0] ?? 0;
      first ??= at;
      if (unresolved === undefined && alias.resolve(doc) === undefined) {
        unresolved = at;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return unresolved ?? first ?? 0;
}

/** The key text at an offset (for duplicate-key messages). */
function keyAt(text: string, offset: number): string | undefined {
  const m = /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^:#\n]*?))\s*:/.exec(text.slice(offset, offset + 200));
  const key = m?.[1] ?? m?.[2] ?? m?.[3];
  return key === undefined || key === '' ? undefined : key;
}

/**
 * Parse and validate a spec's text (pure apart from resolving `file` to an absolute path). Throws a SpecError
 * with every problem; problems name `file` as given.
 */
export function parseSpec(text: string, file: string): Spec {
  const { problems, data, warnings } = checkSpecText(text, file);
  if (problems.length > 0) throw new SpecError(problems);
  const abs = resolve(file);
  const spec = normalizeSpec(data, {
    file: abs,
    dir: dirname(abs),
    digest: createHash('sha256').update(text, 'utf8').digest('hex'),
  });
  return warnings === undefined ? spec : { ...spec, warnings };
}

/** Read, parse and validate a spec file. Its digest is over the file's bytes. */
export async function loadSpec(path: string): Promise<Spec> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new AdsyncError('spec_not_found', `spec not found: ${path}`, {
        hint: '-c/--config defaults to ./adsync.yaml',
      });
    }
    if (code === 'EISDIR') {
      throw new AdsyncError('spec_not_found', `spec not found: ${path} is a directory`, {
        hint: 'point -c/--config at the adsync.yaml file itself',
      });
    }
    throw new AdsyncError('spec_unreadable', `cannot read spec ${path}: ${code ?? String(err)}`, {
      hint: "check the file's permissions",
      cause: err,
    });
  }
  const text = bytes.toString('utf8');
  const spec = parseSpec(text, path);
  // The digest binds saved plans to the exact bytes, BOM and line endings included.
  return { ...spec, digest: createHash('sha256').update(bytes).digest('hex') };
}
