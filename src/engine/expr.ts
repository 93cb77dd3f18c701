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
import { AdsyncError } from '../errors.js';

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
 * A valid mailNickname: none of @ ( ) \ [ ] " ; : < > , or spaces, at most 64 characters. A group's is ASCII
 * only (accents dropped) and has no '.' either (graph-facts §2); a user's keeps the characters Graph accepts
 * (user.md: at most 64 characters; no silent ASCII folding), with no '.' at either end.
 */
export function toMailNickname(v: Dyn, forGroup = false): string | null {
  const s = asString(v);
  if (s === null) return null;
  let cleaned = (forGroup ? s.normalize('NFKD').replace(/[^\x00-\x7F]/g, '') : s).replace(
    /[@()\\[\]";:<>,\s\x00-\x1f]/g,
    '',
  );
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

/**
 * What one evaluation of a flow may cost. CEL has no loops, but macros nest (`l.map(a, l.map(b, …))` is |l|^depth)
 * and `cel.bind(a, a + a, …)` doubles a value per level: a 190-character expression could run for minutes and
 * take gigabytes. Budgets count work and data, not time, so a result is the same on every machine.
 */
export const EXPRESSION_LIMITS = {
  /** Characters of a flow expression (checked by `validate`). */
  maxLength: 4096,
  /** Parse-time limits of cel-js: nesting and size of the expression tree. */
  maxDepth: 128,
  maxAstNodes: 4096,
  /** Sub-expression evaluations per object and flow. */
  maxSteps: 100_000,
  /** Characters, list elements, map entries and bytes of every intermediate value, summed per object and flow. */
  maxUnits: 16 * 1024 * 1024,
} as const;

/** An evaluation that went over its budget: the object and flow are reported, never half-computed. */
export class ExpressionBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionBudgetError';
  }
}

/** The running evaluation's consumption (evaluation is synchronous: one budget at a time). */
const budget = { steps: 0, units: 0, exceeded: undefined as string | undefined };

function charge(value: unknown): void {
  let units = 0;
  if (typeof value === 'string') units = value.length;
  else if (Array.isArray(value)) units = value.length;
  else if (value instanceof Uint8Array) units = value.byteLength;
  else if (value instanceof Map) units = value.size;
  if (units === 0) return;
  budget.units += units;
  if (budget.units > EXPRESSION_LIMITS.maxUnits && budget.exceeded === undefined) {
    budget.exceeded = `evaluation budget exceeded: the expression built more than ${EXPRESSION_LIMITS.maxUnits} characters or elements`;
  }
}

type Run = (ast: unknown, ctx: unknown) => unknown;
type Evaluable = { evaluate(ev: unknown, ast: unknown, ctx: unknown): unknown };
let meteredEvaluator: object | undefined;

/**
 * cel-js evaluates every sub-expression through its evaluator's `run` (macros included): metering it there
 * counts each step and the size of each intermediate value. The evaluator is private to the environment, so
 * it is met through the first root node evaluated (its `evaluate` receives it).
 */
function meter(ev: { run: Run }): void {
  if (meteredEvaluator === ev) return;
  meteredEvaluator = ev;
  const run = ev.run;
  const direct = /^run\(ast, ?ctx\) \{\s*return ast\.evaluate\(this, ast, ctx\)\s*\}$/.test(run.toString());
  const maxSteps = EXPRESSION_LIMITS.maxSteps;
  const maxUnits = EXPRESSION_LIMITS.maxUnits;
  ev.run = function metered(this: unknown, ast: unknown, ctx: unknown): unknown {
    // (hot: every sub-expression of every object passes here, so the common cases come first)
    if (++budget.steps > maxSteps) {
      budget.exceeded ??= `evaluation budget exceeded: more than ${maxSteps} steps`;
      throw new ExpressionBudgetError(budget.exceeded);
    }
    // cel-js's own run is `ast.evaluate(this, ast, ctx)`; calling it inline saves a frame per step
    const value = direct ? (ast as Evaluable).evaluate(this, ast, ctx) : run.call(this, ast, ctx);
    if (typeof value === 'string') budget.units += value.length;
    else if (typeof value === 'object' && value !== null) charge(value);
    else return value;
    if (budget.units > maxUnits || budget.exceeded !== undefined) {
      budget.exceeded ??= `evaluation budget exceeded: the expression built more than ${maxUnits} characters or elements`;
      throw new ExpressionBudgetError(budget.exceeded);
    }
    return value;
  };
}

/** Routes a parsed expression's root evaluation through `meter` (cel-js replaces `evaluate` on first use). */
function meterRoot(root: { evaluate: (ev: { run: Run }, ast: unknown, ctx: unknown) => unknown }): void {
  let inner = root.evaluate;
  const outer = function (this: unknown, ev: { run: Run }, ast: unknown, ctx: unknown): unknown {
    meter(ev);
    return inner.call(this, ev, ast, ctx);
  };
  Object.defineProperty(root, 'evaluate', {
    configurable: true,
    get: () => outer,
    set: (fn: typeof inner) => {
      inner = fn;
    },
  });
}

/** Evaluates under a fresh budget; an error swallowed inside CEL (`x || error`) still ends the evaluation. */
function withinBudget<T>(evaluate: () => T): T {
  budget.steps = 0;
  budget.units = 0;
  budget.exceeded = undefined;
  try {
    const value = evaluate();
    charge(value);
    if (budget.exceeded !== undefined) throw new ExpressionBudgetError(budget.exceeded);
    return value;
  } catch (err) {
    if (budget.exceeded !== undefined) throw new ExpressionBudgetError(budget.exceeded);
    throw err;
  }
}

function buildEnvironment(): Environment {
  const env = new Environment({
    unlistedVariablesAreDyn: false,
    homogeneousAggregateLiterals: false,
    limits: { maxDepth: EXPRESSION_LIMITS.maxDepth, maxAstNodes: EXPRESSION_LIMITS.maxAstNodes },
  })
    .registerVariable('source', 'map', { description: 'attribute name → first value (null when absent)' })
    .registerVariable('sourceAll', 'map', { description: 'attribute name → list of every value' })
    .registerVariable('anchor', 'string', { description: 'the source anchor (base64)' })
    .registerVariable('dn', 'string', { description: "the object's distinguished name" })
    .registerVariable('domain', 'string', { description: "the DNS name of the object's domain" })
    .registerVariable('mailEnabled', 'bool', { description: "Entra Connect's mail-enabled rule" })
    .registerFunction(
      'trim(dyn): dyn',
      (v: Dyn) => {
        const s = asString(v);
        if (s === null) return null;
        const t = s.trim();
        return t === '' ? null : t;
      },
      { description: 'trims whitespace; null for null or an empty result' },
    )
    .registerFunction(
      'left(dyn, int): dyn',
      (v: Dyn, n: bigint) => {
        const s = asString(v);
        return s === null ? null : s.slice(0, Number(n));
      },
      { description: 'the first n characters; null for null' },
    )
    .registerFunction('lower(dyn): dyn', (v: Dyn) => asString(v)?.toLowerCase() ?? null)
    .registerFunction('upper(dyn): dyn', (v: Dyn) => asString(v)?.toUpperCase() ?? null)
    .registerFunction(
      'localPart(dyn): dyn',
      (v: Dyn) => {
        const s = asString(v);
        if (s === null) return null;
        const at = s.lastIndexOf('@');
        return at > 0 ? s.slice(0, at) : null;
      },
      { description: "the part of an address before '@'; null when there is none" },
    )
    .registerFunction('domainPart(dyn): dyn', (v: Dyn) => {
      const s = asString(v);
      if (s === null) return null;
      const at = s.lastIndexOf('@');
      return at >= 0 ? s.slice(at + 1) : null;
    })
    .registerFunction(
      'hasFlag(dyn, int): bool',
      (v: Dyn, flag: bigint) => {
        const n = toBigInt(v);
        return n !== null && (n & flag) !== 0n;
      },
      { description: 'whether an integer attribute (e.g. userAccountControl) has the bit(s) set' },
    )
    .registerFunction('base64(dyn): dyn', (v: Dyn) =>
      v instanceof Uint8Array
        ? Buffer.from(v).toString('base64')
        : v === null
          ? null
          : Buffer.from(String(v), 'utf8').toString('base64'),
    )
    .registerFunction('mailNickname(dyn): dyn', (v: Dyn) => toMailNickname(v), {
      description: "removes characters Graph doesn't allow in a user's mailNickname; at most 64 characters",
    })
    .registerFunction('groupMailNickname(dyn): dyn', (v: Dyn) => toMailNickname(v, true), {
      description: "removes characters Graph doesn't allow in a group's mailNickname (also '.'); at most 64 characters",
    })
    .registerFunction(
      'primarySmtp(dyn): dyn',
      (v: Dyn) => {
        const list = Array.isArray(v) ? v : [];
        for (const p of list) {
          const s = asString(p);
          if (s !== null && s.startsWith('SMTP:')) return s.slice(5);
        }
        return null;
      },
      { description: "the primary SMTP address ('SMTP:' prefix) of a proxyAddresses list" },
    )
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
  {
    re: new RegExp(`^trim\\(source\\.${ATTR}\\)$`),
    build: (m) => {
      const a = m[1]!.toLowerCase();
      return (ctx) => trimmedValue(ctx.attrs[a]?.[0]);
    },
  },
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
      return (ctx) => {
        const v = trimmedValue(ctx.attrs[a]?.[0]);
        return v === null ? [] : [v];
      };
    },
  },
  {
    re: new RegExp(`^source\\.${ATTR}$`),
    build: (m) => {
      const a = m[1]!.toLowerCase();
      return (ctx) => {
        const v = ctx.attrs[a]?.[0];
        return v === undefined ? null : typeof v === 'string' ? v : Buffer.from(v).toString('base64');
      };
    },
  },
  { re: /^anchor$/, build: () => (ctx) => ctx.anchor },
];

/** Compiles a flow expression; throws a CEL error (with position) on bad syntax or types. */
export function compileExpression(text: string): CompiledExpression {
  if (text.length > EXPRESSION_LIMITS.maxLength) {
    throw new AdsyncError(
      'expression_too_long',
      `the expression is ${text.length} characters long; at most ${EXPRESSION_LIMITS.maxLength} are allowed`,
    );
  }
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
  meterRoot(parsed.ast as unknown as Parameters<typeof meterRoot>[0]);
  return (ctx) => normalizeValue(withinBudget(() => parsed(ctx as unknown as Record<string, unknown>)));
}

/** The error message for an expression that doesn't compile, or undefined when it does. */
export function checkExpression(text: string): string | undefined {
  let evaluate: CompiledExpression;
  try {
    evaluate = compileExpression(text);
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
  // A blow-up that doesn't depend on the data (`cel.bind(a, a + a, …)`) shows on any object: try a sample one.
  try {
    evaluate(sampleContext(text));
  } catch (err) {
    if (err instanceof ExpressionBudgetError) return `${err.message} on a sample object`;
  }
  return undefined;
}

/** The CEL type of an expression's result (`string`, `bool`, `list<string>`, `dyn` …); undefined when it doesn't compile. */
export function expressionType(text: string): string | undefined {
  try {
    const checked = environment.parse(text).check();
    return checked.valid ? checked.type : undefined;
  } catch {
    return undefined;
  }
}

/** An object where every attribute the expression reads has one short value. */
function sampleContext(text: string): FlowContext {
  const attrs: Record<string, string[]> = {};
  const source: Record<string, string> = {};
  const sourceAll: Record<string, string[]> = {};
  for (const name of referencedAttributes(text)) {
    attrs[name.toLowerCase()] = ['sample'];
    source[name] = 'sample';
    sourceAll[name] = ['sample'];
  }
  return {
    attrs,
    source,
    sourceAll,
    anchor: 'AAAAAAAAAAAAAAAAAAAAAA==',
    dn: 'CN=sample,DC=example,DC=com',
    domain: 'example.com',
    mailEnabled: false,
  };
}

/** CEL ints are BigInt; Graph wants JSON numbers. Lists are normalized element by element. */
function normalizeValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(normalizeValue);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  // A CEL map has no Graph property to go to: an error for this object (reported, the object held), not a crash.
  if (
    v instanceof Map ||
    (typeof v === 'object' &&
      v !== null &&
      (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null))
  ) {
    throw new AdsyncError(
      'expression_map',
      'the expression gives a map; a flow must give a string, number, bool, list or null',
    );
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
