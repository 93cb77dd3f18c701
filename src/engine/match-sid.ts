/**
 * Join by SID: a cloud group (or user) that adsync didn't create, but that Entra Connect created from the same
 * AD object, carries `onPremisesSecurityIdentifier` = the AD objectSid (graph-facts-2 §1). Entra Connect joins
 * groups that way; adsync does the same for objects whose sync client is gone (Entra Connect turned off, the
 * tenant converted: `onPremisesSyncEnabled` not true). Objects a sync client still masters are the takeover's
 * business (issue 13): `sidIndex` leaves them out unless asked, so both can share the index.
 */
import type { ObjectKind, TargetObject } from '../model/target.js';

/** SIDs compare case-insensitively (`S-1-5-21-…`; the letters are the only case there is). */
export const sidKey = (sid: string): string => sid.toUpperCase();

export interface SidIndex {
  /** The unowned cloud object of that kind recording this SID, if exactly one does. */
  lookup(kind: ObjectKind, sid: string | undefined): TargetObject | undefined;
  readonly size: number;
}

/**
 * The unowned cloud objects (no adsync anchor) by onPremisesSecurityIdentifier. `includeSyncClientMastered`:
 * also the objects a sync client still masters (takeover). A SID two objects record (Graph keeps it unique, but
 * a fixture or an old tenant may not) matches neither: joining one of them would be a guess.
 */
export function sidIndex(objects: readonly TargetObject[], includeSyncClientMastered = false): SidIndex {
  const bySid = new Map<string, TargetObject | null>();
  for (const t of objects) {
    if (t.anchor !== undefined || t.onPremisesSid === undefined || t.onPremisesSid === '') continue;
    if (t.syncClientMastered === true && !includeSyncClientMastered) continue;
    const key = `${t.kind}:${sidKey(t.onPremisesSid)}`;
    bySid.set(key, bySid.has(key) ? null : t);
  }
  return {
    lookup: (kind, sid) => (sid === undefined ? undefined : (bySid.get(`${kind}:${sidKey(sid)}`) ?? undefined)),
    size: bySid.size,
  };
}

/**
 * Target id → anchor of the desired object that will adopt it (hard match by onPremisesImmutableId, else by
 * SID), known before the diff decides: a reference (manager) to an object adopted in the same plan compares by
 * anchor, so adopting a tenant doesn't rewrite every manager.
 */
export function pendingAdoptions(
  desired: readonly { anchor: string; kind: ObjectKind; sid?: string; readOnly?: unknown }[],
  byImmutableId: ReadonlyMap<string, TargetObject>,
  bySid: SidIndex,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of desired) {
    if (d.readOnly) continue;
    const hard = d.kind === 'user' ? byImmutableId.get(d.anchor) : undefined;
    const t = hard ?? bySid.lookup(d.kind, d.sid);
    if (t && !out.has(t.id)) out.set(t.id, d.anchor);
  }
  return out;
}
