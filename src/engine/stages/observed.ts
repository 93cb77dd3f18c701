/**
 * Stage: observed digests. Every change carries the digest of the target object it touches as the plan saw it,
 * so a saved plan can be refused at apply time when that object changed meanwhile (see ../saved-plan.ts).
 */
import { createHash } from 'node:crypto';
import type { Change } from '../../model/change.js';
import type { TargetObject, TargetSnapshot } from '../../model/target.js';

/** JSON with object keys sorted at every level: the same value always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The digest of a target object as read: id, kind, anchor, every attribute adsync reads, and (groups) every
 * direct member, owned or not. `null` stands for "no such object" (a create's view).
 */
export function objectDigest(obj: TargetObject | null, deleted = false): string {
  if (obj === null) return sha256('null');
  return sha256(
    canonicalJson({
      id: obj.id,
      kind: obj.kind,
      anchor: obj.anchor ?? null,
      deleted,
      attrs: obj.attrs,
      members: obj.members ? [...obj.members].sort() : null,
    }),
  );
}

/**
 * Looks the objects of a plan up in a snapshot: by anchor among owned objects, then by id (an object the
 * plan adopts carries no anchor yet), then among deleted ones.
 */
export class ObservedIndex {
  private readonly owned = new Map<string, TargetObject>();
  private readonly byId = new Map<string, TargetObject>();
  private readonly deleted = new Map<string, TargetObject>();
  constructor(snapshot: TargetSnapshot) {
    for (const o of snapshot.objects) {
      if (o.anchor !== undefined) this.owned.set(`${o.kind} ${o.anchor}`, o);
      this.byId.set(o.id, o);
    }
    for (const o of snapshot.deleted) if (o.anchor !== undefined) this.deleted.set(`${o.kind} ${o.anchor}`, o);
  }

  digest(c: Pick<Change, 'kind' | 'anchor'> & { id?: string }): string {
    const k = `${c.kind} ${c.anchor}`;
    const live = this.owned.get(k) ?? (c.id !== undefined ? this.byId.get(c.id) : undefined);
    if (live !== undefined) return objectDigest(live);
    const gone = this.deleted.get(k);
    return gone !== undefined ? objectDigest(gone, true) : objectDigest(null);
  }
}

/**
 * Every change with the digest of the object it touches, as `snapshot` shows it. New change objects: the
 * input list and its changes are left as they were.
 */
export function stampObserved<C extends Change>(changes: readonly C[], snapshot: TargetSnapshot): C[] {
  const index = new ObservedIndex(snapshot);
  return changes.map((c) => ({ ...c, observed: index.digest(c) }));
}
