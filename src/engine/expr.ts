/**
 * Attribute flows are CEL expressions (Common Expression Language: non-Turing-complete, no side effects,
 * no eval), evaluated with @marcbachmann/cel-js. Default flows are written in the same language, so
 * `adsync explain` can show exactly how every value was computed and a spec can override any of them.
 *
 * Variables available to a flow:
 *   source      map: attribute name → first value (string, or bytes for binary attributes); null when absent
 *   sourceAll   map: attribute name → list of all values (empty list when absent)
 *   anchor      the object's source anchor (base64)
 *   dn          the object's distinguished name
 *   domain      the DNS name of the object's domain (corp.example)
 *   mailEnabled whether the object is mail-enabled by Entra Connect's rule (SMTP proxy address or mail with @)
 */
import { Environment } from '@marcbachmann/cel-js';

export interface FlowContext {
  /**
   * The entry's raw attributes (lower-cased names). Flows of the common shapes (`trim(source.x)`,
   * `left(trim(source.x), n)`, `list(trim(source.x))`, `source.x`, `anchor`) read them directly instead of going
   * through CEL: same result, without building a map entry per attribute per object.
   */
  attrs: Readonly<Record<string, readonly (string | Uint8Array)[]>>;
  source: Record<string, string | Uint8Array | null>;
  sourceAll: Record<string, (string | Uint8Array)[]>;
  anchor: string;
  dn: string;
  domain: string;
  mailEnabled: boolean;
}

type Dyn = unknown;

function isBlank(v: Dyn): boolean {
  return v === null || v === undefined || (typeof v === 'string' && v === '') || (Array.isArray(v) && v.length === 0);
}

function asString(v: Dyn): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return String(v);
}

/**
 * A valid mailNickname: ASCII only (accents dropped), none of @ ( ) \ [ ] " ; : < > , or spaces, at most 64
 * characters. Groups may not contain '.' either (graph-facts §2); users may, but not at either end.
 */
export function toMailNickname(v: Dyn, forGroup = false): string | null {
  const s = asString(v);
  if (s === null) return null;
  let cleaned = s.normalize('NFKD').replace(/[^\x00-\x7F]/g, '').replace(/[@()\\[\]";:<>,\s\x00-\x1f]/g, '');
  cleaned = forGroup ? cleaned.replace(/\./g, '') : cleaned.replace(/^\.+|\.+$/g, '');
  cleaned = cleaned.slice(0, 64);
  return cleaned === '' ? null : cleaned;
}

function toBigInt(v: Dyn): bigint | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v;
  const s = asString(v)?.trim();
  if (!s || !/^-?\d+$/.test(s)) return null;
  return BigInt(s);
}

function buildEnvironment(): Environment {
  const env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false })
    .registerVariable('source', 'map', { description: 'attribute name → first value (null when absent)' })
    .registerVariable('sourceAll', 'map', { description: 'attribute name → list of every value' })
    .registerVariable('anchor', 'string', { description: 'the source anchor (base64)' })
    .registerVariable('dn', 'string', { description: "the object's distinguished name" })
    .registerVariable('domain', 'string', { description: "the DNS name of the object's domain" })
    .registerVariable('mailEnabled', 'bool', { description: "Entra Connect's mail-enabled rule" })
    .registerFunction('trim(dyn): dyn', (v: Dyn) => {
      const s = asString(v);
      if (s === null) return null;
      const t = s.trim();
      return t === '' ? null : t;
    }, { description: 'trims whitespace; null for null or an empty result' })
    .registerFunction('left(dyn, int): dyn', (v: Dyn, n: bigint) => {
      const s = asString(v);
      return s === null ? null : s.slice(0, Number(n));
    }, { description: 'the first n characters; null for null' })
    .registerFunction('lower(dyn): dyn', (v: Dyn) => asString(v)?.toLowerCase() ?? null)
    .registerFunction('upper(dyn): dyn', (v: Dyn) => asString(v)?.toUpperCase() ?? null)
    .registerFunction('localPart(dyn): dyn', (v: Dyn) => {
      const s = asString(v);
      if (s === null) return null;
      const at = s.lastIndexOf('@');
      return at > 0 ? s.slice(0, at) : null;
    }, { description: "the part of an address before '@'; null when there is none" })
    .registerFunction('domainPart(dyn): dyn', (v: Dyn) => {
      const s = asString(v);
      if (s === null) return null;
      const at = s.lastIndexOf('@');
      return at >= 0 ? s.slice(at + 1) : null;
    })
    .registerFunction('hasFlag(dyn, int): bool', (v: Dyn, flag: bigint) => {
      const n = toBigInt(v);
      return n !== null && (n & flag) !== 0n;
    }, { description: 'whether an integer attribute (e.g. userAccountControl) has the bit(s) set' })
    .registerFunction('base64(dyn): dyn', (v: Dyn) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v === null ? null : Buffer.from(String(v), 'utf8').toString('base64')))
    .registerFunction('mailNickname(dyn): dyn', (v: Dyn) => toMailNickname(v), {
      description: "removes characters Graph doesn't allow in a user's mailNickname; at most 64 characters",
    })
    .registerFunction('groupMailNickname(dyn): dyn', (v: Dyn) => toMailNickname(v, true), {
      description: "removes characters Graph doesn't allow in a group's mailNickname (also '.'); at most 64 characters",
    })
    .registerFunction('primarySmtp(dyn): dyn', (v: Dyn) => {
      const list = Array.isArray(v) ? v : [];
      for (const p of list) {
        const s = asString(p);
        if (s !== null && s.startsWith('SMTP:')) return s.slice(5);
      }
      return null;
    }, { description: "the primary SMTP address ('SMTP:' prefix) of a proxyAddresses list" })
    .registerFunction('list(dyn): list', (v: Dyn) => (isBlank(v) ? [] : Array.isArray(v) ? v : [v]), {
      description: 'a one-element list, or an empty list for null',
    });
  // coalesce(a, b, ...): the first value that is neither null nor empty. CEL has no varargs: one overload per arity.
  for (let n = 2; n <= 6; n++) {
    const params = Array.from({ length: n }, () => 'dyn').join(', ');
    env.registerFunction(`coalesce(${params}): dyn`, (...args: Dyn[]) => {
      for (const a of args) if (!isBlank(a)) return a;
      return null;
    });
  }
  // concat(a, b, ...): the strings joined, or null when any part is null (so a fallback can take over).
  for (let n = 2; n <= 6; n++) {
    const params = Array.from({ length: n }, () => 'dyn').join(', ');
    env.registerFunction(`concat(${params}): dyn`, (...args: Dyn[]) => {
      const parts = args.map(asString);
      return parts.some((p) => p === null) ? null : parts.join('');
    });
  }
  return env;
}

const environment = buildEnvironment();

export type CompiledExpression = ((ctx: FlowContext) => unknown) & {
  /** Set when the expression is evaluated natively (no CEL): it reads only `ctx.attrs` and `ctx.anchor`. */
  native?: true;
};

function trimmedValue(v: string | Uint8Array | undefined): string | null {
  if (v === undefined) return null;
  const t = (typeof v === 'string' ? v : Buffer.from(v).toString('utf8')).trim();
  return t === '' ? null : t;
}

const ATTR = '([A-Za-z][A-Za-z0-9_]*)';
const NATIVE_SHAPES: { re: RegExp; build(m: RegExpExecArray): CompiledExpression }[] = [
  { re: new RegExp(`^trim\\(source\\.${ATTR}\\)$`), build: (m) => { const a = m[1]!.toLowerCase(); return (ctx) => trimmedValue(ctx.attrs[a]?.[0]); } },
  {
    re: new RegExp(`^left\\(trim\\(source\\.${ATTR}\\),(\\d{1,9})\\)$`),
    build: (m) => {
      const a = m[1]!.toLowerCase();
      const n = Number(m[2]);
      return (ctx) => trimmedValue(ctx.attrs[a]?.[0])?.slice(0, n) ?? null;
    },
  },
  {
    re: new RegExp(`^list\\(trim\\(source\\.${ATTR}\\)\\)$`),
    build: (m) => {
      const a = m[1]!.toLowerCase();
      return (ctx) => { const v = trimmedValue(ctx.attrs[a]?.[0]); return v === null ? [] : [v]; };
    },
  },
  {
    re: new RegExp(`^source\\.${ATTR}$`),
    build: (m) => {
      const a = m[1]!.toLowerCase();
      return (ctx) => { const v = ctx.attrs[a]?.[0]; return v === undefined ? null : typeof v === 'string' ? v : Buffer.from(v).toString('base64'); };
    },
  },
  { re: /^anchor$/, build: () => (ctx) => ctx.anchor },
];

/** Compiles a flow expression; throws a CEL error (with position) on bad syntax or types. */
export function compileExpression(text: string): CompiledExpression {
  const parsed = environment.parse(text);
  const checked = parsed.check();
  if (!checked.valid) throw checked.error;
  // The common shapes evaluate natively; the CEL program above still checked them.
  const compact = text.replace(/\s+/g, '');
  for (const shape of NATIVE_SHAPES) {
    const m = shape.re.exec(compact);
    if (m) {
      const fn = shape.build(m);
      fn.native = true;
      return fn;
    }
  }
  return (ctx) => normalizeValue(parsed(ctx as unknown as Record<string, unknown>));
}

/** The error message for an expression that doesn't compile, or undefined when it does. */
export function checkExpression(text: string): string | undefined {
  try {
    compileExpression(text);
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/** CEL ints are BigInt; Graph wants JSON numbers. Lists are normalized element by element. */
function normalizeValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(normalizeValue);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  // A CEL map has no Graph property to go to: an error for this object (reported, the object held), not a crash.
  if (v instanceof Map || (typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null))) {
    throw new Error('the expression gives a map; a flow must give a string, number, bool, list or null');
  }
  return v === undefined ? null : v;
}

/** The source attributes an expression reads (`source.x`, `sourceAll.x`, `source["x-y"]`), lower-cased. */
export function referencedAttributes(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\bsource(?:All)?\s*\.\s*([A-Za-z][A-Za-z0-9_]*)/g)) names.add(m[1]!);
  for (const m of text.matchAll(/\bsource(?:All)?\s*\[\s*["']([^"']+)["']\s*\]/g)) names.add(m[1]!);
  return [...names];
}
