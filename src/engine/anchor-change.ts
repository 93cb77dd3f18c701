/**
 * A changed source anchor is an error for that object, never a delete and a create. Entra Connect stops such an
 * object with a "source anchor changed" error and leaves the cloud object alone (its licences, mailbox and app
 * assignments); adsync, keyed by anchor, would otherwise see one object gone and a new one arrive.
 *
 * The same AD object is recognised by what does not change with the anchor: its objectSid (when the cloud object
 * records it), its objectGUID (when the old anchor was the objectGUID), or, for a user, the UPN it signs in with.
 * (The UPN counts only when the anchor comes from mS-DS-ConsistencyGuid.) Both anchors are then held: the plan neither deletes, re-creates nor writes the object, nor its memberships.
 */
import type { ReportItem } from '../model/change.js';
import type { TargetObject, TargetSystem } from '../model/target.js';
import { sidKey } from './match-sid.js';
import { otherOf, reportOn } from './reports.js';

/** What this stage reads of a desired object (a structural subset of DesiredObject). */
export interface AnchoredObject {
  kind: TargetObject['kind'];
  anchor: string;
  source: string;
  dn: string;
  ndn: string;
  label: string;
  sid?: string;
  /** base64 of the object's objectGUID. */
  guid?: string;
  attrs: Record<string, unknown>;
  readOnly?: unknown;
}

export interface AnchorState {
  objects: readonly AnchoredObject[];
  byAnchor: ReadonlyMap<string, AnchoredObject>;
  excluded: ReadonlyMap<string, unknown>;
  held: Set<string>;
  heldDns?: Set<string>;
}

export const SOURCE_ANCHOR_CHANGED = 'source-anchor-changed';

/** base64 of 16 bytes → the GUID's string form (MS-DTYP: the first three fields little-endian). */
export function guidString(base64: string): string | undefined {
  const b = Buffer.from(base64, 'base64');
  if (b.length !== 16) return undefined;
  const hex = (i: number, n: number, reverse: boolean): string => {
    const part = [...b.subarray(i, i + n)];
    return (reverse ? part.reverse() : part).map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 2, true)}-${hex(6, 2, true)}-${hex(8, 2, false)}-${hex(10, 6, false)}`;
}

const lower = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined);

/**
 * Finds owned cloud objects whose anchor no source gives any more while a new anchor names the same AD object;
 * holds both anchors (in `desired.held`) and returns one report per object saying what changed and how to
 * resolve it. `deletedAnchors`: anchors adsync finds in deleted items (a restore, not an anchor change).
 */
export function sourceAnchorChanges(
  desired: AnchorState,
  owned: ReadonlyMap<string, TargetObject>,
  deletedAnchors: ReadonlySet<string>,
  system: TargetSystem,
): ReportItem[] {
  // The owned objects about to be deleted as "no longer in the source", by what identifies their AD object.
  const vanished = new Map<string, TargetObject>();
  for (const [anchor, t] of owned)
    if (!desired.byAnchor.has(anchor) && !desired.held.has(anchor) && !desired.excluded.has(anchor))
      vanished.set(anchor, t);
  if (vanished.size === 0) return [];
  const bySid = new Map<string, [string, TargetObject]>();
  const byUpn = new Map<string, [string, TargetObject]>();
  for (const [anchor, t] of vanished) {
    if (t.onPremisesSid) bySid.set(`${t.kind}:${sidKey(t.onPremisesSid)}`, [anchor, t]);
    const upn = t.kind === 'user' ? lower(t.attrs.userPrincipalName) : undefined;
    if (upn) byUpn.set(upn, [anchor, t]);
  }
  const reports: ReportItem[] = [];
  const claimed = new Set<string>();
  for (const obj of desired.objects) {
    if (obj.readOnly || owned.has(obj.anchor) || deletedAnchors.has(obj.anchor) || desired.held.has(obj.anchor))
      continue;
    let hit: [string, TargetObject] | undefined;
    let how = '';
    const sidHit = obj.sid ? bySid.get(`${obj.kind}:${sidKey(obj.sid)}`) : undefined;
    const guidHit = obj.guid !== undefined && obj.guid !== obj.anchor ? vanished.get(obj.guid) : undefined;
    // By UPN only when the anchor is an mS-DS-ConsistencyGuid (the objectGUID never changes): a new AD user
    // that takes a leaver's UPN has its own objectGUID as anchor, and is a new object.
    const fromConsistencyGuid = obj.guid !== undefined && obj.guid !== obj.anchor;
    const upn = obj.kind === 'user' && fromConsistencyGuid ? lower(obj.attrs.userPrincipalName) : undefined;
    const upnHit = upn ? byUpn.get(upn) : undefined;
    if (sidHit && sidHit[1].kind === obj.kind) [hit, how] = [sidHit, `objectSid ${obj.sid}`];
    else if (guidHit && guidHit.kind === obj.kind) [hit, how] = [[obj.guid!, guidHit], 'objectGUID'];
    else if (upnHit) [hit, how] = [upnHit, `userPrincipalName ${upn}`];
    if (!hit || claimed.has(hit[0])) continue;
    const [oldAnchor, t] = hit;
    claimed.add(oldAnchor);
    desired.held.add(oldAnchor);
    desired.held.add(obj.anchor);
    desired.heldDns?.add(obj.ndn);
    const from = `${oldAnchor}${guidString(oldAnchor) ? ` (${guidString(oldAnchor)})` : ''}`;
    const to = `${obj.anchor}${guidString(obj.anchor) ? ` (${guidString(obj.anchor)})` : ''}`;
    const attr = obj.guid !== undefined && obj.guid !== obj.anchor ? 'mS-DS-ConsistencyGuid' : 'the anchor attribute';
    reports.push(
      reportOn(
        obj,
        system,
        SOURCE_ANCHOR_CHANGED,
        `error: the source anchor changed from ${from} to ${to} (${attr}), but the same AD object (same ${how}) ` +
          `is the ${t.kind} ${t.id} in the cloud, which carries the old anchor; adsync neither deletes nor re-creates ` +
          `it and writes nothing to it. Resolve: set ${attr} back to ${guidString(oldAnchor) ?? oldAnchor} in AD; ` +
          'or, if the new value is meant to stay, delete the cloud object so the next apply creates it anew',
        otherOf(t),
      ),
    );
  }
  return reports;
}
