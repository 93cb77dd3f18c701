/**
 * ajv errors → problems a person can act on: at the exact key or value, in the spec's own words, with the
 * nearest valid key or value suggested. Noise from alternatives (oneOf branches) is folded into one message.
 */
import type { SchemaError } from './schema.js';
import { MESSAGES_KEYWORD } from './schema.js';
import { formatPath, parsePointer, type SpecPath } from './positions.js';
import { didYouMean } from './suggest.js';
import { APPLICATIONS } from './applications.js';

/** A problem before it has a position: the path it is about, and whether it points at the key or the value. */
export interface PathProblem {
  path: SpecPath;
  at: 'key' | 'value';
  message: string;
  /** Another place the problem is about (e.g. the other rule of a loop): `{related}` in the message becomes its FILE:LINE:COL. */
  related?: SpecPath;
  /** Not an error: the spec is valid, but this part of it can have no effect (validate prints it as a warning). */
  warning?: true;
}

type Schema = Record<string, unknown>;

function xMessage(e: SchemaError): string | undefined {
  const m = (e.parentSchema as Schema | undefined)?.[MESSAGES_KEYWORD] as Record<string, string> | undefined;
  return m?.[e.keyword];
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? `the number ${v}` : `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  return `the string ${JSON.stringify(v)}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function typeWords(t: unknown): string {
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => TYPE_WORDS[String(x)] ?? String(x)).join(' or ');
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
}

function describe(e: SchemaError): PathProblem | undefined {
  const path = parsePointer(e.instancePath);
  const where = formatPath(path);
  const xm = xMessage(e);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p['additionalProperty']);
      const allowed = Object.keys(((e.parentSchema as Schema)['properties'] as Schema | undefined) ?? {});
      const head = xm ? xm.replace('{key}', key).replace('{where}', where) : `unknown key '${key}' in ${where}`;
      return { path: [...path, key], at: 'key', message: `${head}${didYouMean(key, allowed)}` };
    }
    case 'required':
      return { path, at: 'value', message: `missing required key '${String(p['missingProperty'])}' in ${where}` };
    case 'type':
      return {
        path,
        at: 'value',
        message: xm ? `${where}: ${xm}` : `${where} must be ${typeWords(p['type'])}, not ${typeName(e.data)}`,
      };
    case 'enum': {
      const allowed = (p['allowedValues'] as unknown[]).map(String);
      const value = String(e.data);
      const writeback = APPLICATIONS.find((a) => a.name === value && a.direction === 'writeback');
      if (writeback) {
        return {
          path,
          at: 'value',
          message: `${where}: '${value}' is an Entra ID → AD attribute set; it belongs to writeback rules, not applications`,
        };
      }
      const what =
        path[0] === 'applications'
          ? `unknown application ${show(e.data)}`
          : `${where} must be one of ${allowed.join(', ')}, not ${show(e.data)}`;
      const suggestion = typeof e.data === 'string' ? didYouMean(e.data, allowed) : '';
      return {
        path,
        at: 'value',
        message:
          path[0] === 'applications'
            ? `${what} in ${where}${suggestion || ` (known: ${allowed.join(', ')})`}`
            : `${what}${suggestion}`,
      };
    }
    case 'const':
      return { path, at: 'value', message: `${where} must be ${show(p['allowedValue'])}, not ${show(e.data)}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return {
        path,
        at: 'value',
        message: `${where} must be ${String(p['comparison'])} ${String(p['limit'])}, not ${show(e.data)}`,
      };
    case 'minItems':
    case 'minLength':
      return {
        path,
        at: 'value',
        message: p['limit'] === 1 ? `${where} must not be empty` : `${where} ${e.message ?? 'is too short'}`,
      };
    case 'pattern':
      // An `env:` reference that is not a variable name may be a pasted secret: never echo it.
      if (path[path.length - 1] === 'env')
        return {
          path,
          at: 'value',
          message: `${where} is not a valid environment variable name (letters, digits and _, not starting with a digit); the value is not shown in case it is a secret`,
        };
      return {
        path,
        at: 'value',
        message: `${where} ${xm ?? `must match ${String(p['pattern'])}`}, not ${show(e.data)}`,
      };
    case 'uniqueItems': {
      const later = Math.max(Number(p['i']), Number(p['j']));
      return {
        path: [...path, later],
        at: 'value',
        message: `${formatPath([...path, later])} repeats ${show((e.data as unknown[])[later])}`,
      };
    }
    case 'not':
      // Never echoes the value: a `not` guards against secrets in the wrong place (a SAS in a URL).
      return { path, at: 'value', message: `${where} ${xm ?? 'is not allowed here'}` };
    case 'oneOf':
    case 'anyOf':
      return { path, at: 'value', message: `${where}: ${xm ?? 'must match exactly one of the allowed shapes'}` };
    case 'discriminator': {
      const branches = ((e.parentSchema as Schema)['oneOf'] as Schema[] | undefined) ?? [];
      const tag = String(p['tag']);
      const kinds = branches.map((b) => String(((b['properties'] as Schema)[tag] as Schema)['const']));
      if (p['error'] === 'mapping') {
        const value = String(p['tagValue']);
        return {
          path: [...path, tag],
          at: 'value',
          message: `${where}: unknown ${tag} '${value}'${didYouMean(value, kinds) || ` (one of ${kinds.join(', ')})`}`,
        };
      }
      return { path: [...path, tag], at: 'value', message: `${where}.${tag} must be one of ${kinds.join(', ')}` };
    }
    default:
      return { path, at: 'value', message: `${where} ${e.message ?? 'is invalid'}` };
  }
}

/** Every ajv error, folded and described. */
export function schemaProblems(errors: readonly SchemaError[]): PathProblem[] {
  // Branches of a failed oneOf/anyOf: their own errors only repeat the alternative's failure.
  const failedAlternatives = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .map((e) => `${e.schemaPath}/`);
  // A value of the wrong type: other complaints about the same value add nothing.
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  // A missing discriminator: the `required` error says it.
  const missing = new Set(
    errors
      .filter((e) => e.keyword === 'required')
      .map((e) => `${e.instancePath}/${String((e.params as Record<string, unknown>)['missingProperty'])}`),
  );
  const out: PathProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (failedAlternatives.some((prefix) => e.schemaPath.startsWith(prefix))) continue;
    if (e.keyword !== 'type' && wrongType.has(e.instancePath)) continue;
    if (
      e.keyword === 'discriminator' &&
      (e.params as Record<string, unknown>)['error'] === 'tag' &&
      missing.has(`${e.instancePath}/${String((e.params as Record<string, unknown>)['tag'])}`)
    )
      continue;
    const p = describe(e);
    if (!p) continue;
    const k = `${JSON.stringify(p.path)} ${p.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(p);
  }
  return out;
}
