/**
 * Flows that know time (issue 18). Entra Connect and the Entra service don't recompute every value on every
 * sync; a tenant they built keeps values adsync must not churn when it takes over:
 *   - `initial`: set when the object is created, never recomputed (Entra sets `mailNickname` once);
 *   - `sourceHasValue`: when the source has no value the flow is skipped and the cloud keeps its own
 *     (Entra Connect's `IIF(IsNullOrEmpty(x), IgnoreThisFlow, x)`: `usageLocation`);
 *   - `sourceChanged`: recomputed only when the flow's own source value changes (the `…onmicrosoft.com` fallback
 *     UPN follows the on-premises UPN, not the mailNickname it was built from; entra-connect-defaults §5).
 * Pure: the diff calls `applyFlowTiming` on a desired object with the cloud object it joined, before comparing.
 */
import { createHash } from 'node:crypto';
import type { TargetObject } from '../model/target.js';

export type FlowWhen = 'always' | 'initial' | 'sourceHasValue' | 'sourceChanged';
export const FLOW_WHEN: readonly FlowWhen[] = ['always', 'initial', 'sourceHasValue', 'sourceChanged'];

/** What `applyFlowTiming` reads from a desired object (a structural subset of DesiredObject). */
export interface TimedObject {
  attrs: Record<string, unknown>;
  /** Property → its flow's timing, for the flows that are not `always` (shared per kind). */
  timing?: Readonly<Record<string, FlowWhen>>;
  /** `sourceChanged` flows: the value the flow computed from the source, before Entra's tenant rules. */
  sourceValues?: Record<string, unknown>;
  /** Properties whose value is Entra's fallback name (`<mailNickname>@<initial domain>`), not the flow's value. */
  fallbackNames?: string[];
}

/** The separator between the attributes digest and the remembered source values in the digest extension. */
const MEMORY = '~';

function isEmpty(v: unknown): boolean {
  return v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
}

/** A short, stable fingerprint of a source value (the digest extension holds at most 256 characters). */
export function sourceFingerprint(v: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(v ?? null))
    .digest('base64url')
    .slice(0, 10);
}

/** The stored digest → the attributes digest (drift compares only that) and the remembered source values. */
export function splitDigest(digest: string | undefined): { base?: string; sources: Map<string, string> } {
  const sources = new Map<string, string>();
  if (digest === undefined) return { sources };
  const at = digest.indexOf(MEMORY);
  if (at < 0) return { base: digest, sources };
  for (const part of digest.slice(at + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) sources.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return { base: digest.slice(0, at), sources };
}

/**
 * The digest adsync writes: the attributes digest, then the source values of `sourceChanged` flows whose
 * value is a fallback (only there does the value not tell what the source said; elsewhere it does).
 */
export function withSourceMemory(base: string, obj: TimedObject): string {
  const parts: string[] = [];
  for (const name of [...(obj.fallbackNames ?? [])].sort()) {
    if (obj.timing?.[name] !== 'sourceChanged' || !obj.sourceValues || !(name in obj.sourceValues)) continue;
    parts.push(`${name}=${sourceFingerprint(obj.sourceValues[name])}`);
  }
  return parts.length === 0 ? base : `${base}${MEMORY}${parts.join(',')}`;
}

/** `a.b` names a member of a complex property (onPremisesExtensionAttributes.extensionAttribute1). */
function cloudValue(current: TargetObject, name: string): unknown {
  if (name in current.attrs) return current.attrs[name];
  const dot = name.indexOf('.');
  if (dot < 0) return undefined;
  const outer = current.attrs[name.slice(0, dot)];
  return typeof outer === 'object' && outer !== null
    ? (outer as Record<string, unknown>)[name.slice(dot + 1)]
    : undefined;
}

/** The fallback-name domain of a value (`nick@contoso.onmicrosoft.com` → `contoso.onmicrosoft.com`). */
function domainOf(v: unknown): string | undefined {
  return typeof v === 'string' && v.includes('@') ? v.slice(v.lastIndexOf('@') + 1).toLowerCase() : undefined;
}

/**
 * Settles the desired values the timing rules say the cloud keeps to the cloud's values (in `attrs`), so the diff
 * sees no change there (and the digest vouches for what the object really holds). `current`: the cloud object the
 * desired object joined (owned, restored or adopted). Returns the properties kept.
 */
export function applyFlowTiming(
  obj: TimedObject,
  current: TargetObject,
  /**
   * Where settled values go: the caller's copy of `obj.attrs` (the object itself is left as it was), asked for
   * only when a value differs (most objects keep what the flows computed: no copy).
   */
  settle: () => Record<string, unknown> = () => obj.attrs,
): string[] {
  const timing = obj.timing;
  if (!timing) return [];
  const kept: string[] = [];
  let copy: Record<string, unknown> | undefined;
  const set = (name: string, v: unknown): void => {
    if ((copy ?? obj.attrs)[name] === v) return;
    copy ??= settle();
    copy[name] = v;
  };
  const keep = (name: string): void => {
    const v = cloudValue(current, name);
    set(name, v === undefined ? null : v);
    kept.push(name);
  };
  // initial first: a recalculated fallback name is built from the alias the object really has
  for (const [name, when] of Object.entries(timing)) {
    if (when === 'initial' && !isEmpty(cloudValue(current, name))) keep(name);
    else if (when === 'sourceHasValue' && isEmpty((copy ?? obj.attrs)[name])) keep(name);
  }
  const remembered = splitDigest(current.digest).sources;
  for (const [name, when] of Object.entries(timing)) {
    if (when !== 'sourceChanged') continue;
    const fallback = obj.fallbackNames?.includes(name) === true;
    const before = cloudValue(current, name);
    const memory = remembered.get(name);
    if (memory !== undefined) {
      // adsync wrote it from a fallback: the source value it came from decides
      if (fallback && memory === sourceFingerprint(obj.sourceValues?.[name])) {
        keep(name);
        continue;
      }
    } else if (fallback && !isEmpty(before) && domainOf(before) === domainOf((copy ?? obj.attrs)[name])) {
      // No record (the object was built by another sync client): its fallback name stands until the source
      // value changes, which adsync can only see from now on.
      keep(name);
      continue;
    }
    // Recomputed: a fallback name is built from the alias the object keeps.
    if (fallback && typeof (copy ?? obj.attrs).mailNickname === 'string' && (copy ?? obj.attrs).mailNickname !== '') {
      const domain = domainOf((copy ?? obj.attrs)[name]);
      if (domain !== undefined) set(name, `${(copy ?? obj.attrs).mailNickname as string}@${domain}`);
    }
  }
  return kept;
}
