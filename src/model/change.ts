/**
 * A plan is a sorted list of changes (a tagged union on `action`) plus report items: things adsync can't or
 * won't change, with the reason. The same shapes serve both directions (AD → Entra and writeback Entra → AD).
 */
import { createHash } from 'node:crypto';
import type { ObjectKind, TargetSystem } from './target.js';

/** One attribute's change, with the flow that produced the new value (provenance). */
export interface AttributeChange {
  name: string;
  /** Absent on create, or when the target had no value. */
  before?: unknown;
  /** Absent when the value is cleared. */
  after?: unknown;
  /** Which flow produced `after`, e.g. `default user.displayName` or `objects.user.flows.jobTitle`. */
  flow: string;
  /**
   * The target's value was edited in the cloud since adsync last wrote it (AD is the source of authority:
   * apply restores the AD value). Set only when adsync can tell, from the digest it keeps on the object.
   */
  drift?: true;
}

/**
 * The value of a reference attribute (`manager`): the referenced object by anchor, with its target id when
 * it exists already (else apply takes the id from the object this plan creates).
 */
export interface ObjectRef {
  /** The source anchor of the object, when adsync manages it (absent: an object adsync doesn't own). */
  anchor?: string;
  kind: ObjectKind;
  /** Its id in the target, when it exists there. */
  id?: string;
  label: string;
}

export function isObjectRef(v: unknown): v is ObjectRef {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    (typeof (v as ObjectRef).anchor === 'string' || typeof (v as ObjectRef).id === 'string') &&
    typeof (v as ObjectRef).label === 'string'
  );
}

/** A member of a group: by anchor (always), with the target id when the member already exists. */
export interface MemberRef {
  anchor: string;
  kind: ObjectKind;
  id?: string;
  /** Human label (UPN, display name or DN) for rendering. */
  label: string;
}

interface ChangeBase {
  kind: ObjectKind;
  /**
   * The object's identity in the system it flows from: for inbound changes the source anchor (base64 of
   * ms-DS-ConsistencyGuid or objectGUID); for writeback changes (`target: 'ad'`) the cloud object's id, the
   * identity of what is written back. Never the id of the object in the change's own target: that is `id`.
   */
  anchor: string;
  target: TargetSystem;
  /** The source object's DN (for deletes: the last one known, if any). */
  sourceDn?: string;
  /** The source (forest) the object comes from. */
  source?: string;
  /** What people call it: UPN for users, display name for groups. */
  label: string;
  /** The rule that produced this change (scope and object rule), for provenance. */
  rule: string;
  /**
   * sha256 (hex) of the target object as the plan saw it (absent for objects that did not exist): a saved
   * plan is stale when the object changed since, even if the change list would come out the same.
   */
  observed?: string;
}

interface WritesAttributes {
  /** The digest of every flowed attribute after this change (see attributesDigest); apply writes it too. */
  digest?: string;
}

export interface CreateChange extends ChangeBase, WritesAttributes {
  action: 'create';
  attributes: AttributeChange[];
}

export interface UpdateChange extends ChangeBase, WritesAttributes {
  action: 'update';
  id: string;
  attributes: AttributeChange[];
  /**
   * Set when this update stands in for a delete (`safety.deleteMode: disable-first`): it disables the account
   * (users) and marks the object for deletion after `deleteAfter`. Guard rails count it as a delete.
   */
  disable?: DisableIntent;
}

/** A delete in waiting: the disable-first update that replaces it. */
export interface DisableIntent {
  /** When a later plan deletes the object (ISO 8601). */
  deleteAfter: string;
  /** Why the object would have been deleted (the delete's reason). */
  reason: string;
}

/** The rule (provenance) of the updates disable-first makes: disables, and marks cleared when objects return. */
export const DISABLE_FIRST_RULE = 'safety.deleteMode: disable-first';

/**
 * Whether a change disables instead of deleting. Plans saved before `disable` existed say so only by their
 * rule and a value written (a cleared mark writes none): those are recognised here, in one place.
 */
export function isDisable(c: Change): c is UpdateChange {
  if (c.action !== 'update') return false;
  if (c.disable !== undefined) return true;
  return c.rule === DISABLE_FIRST_RULE && c.attributes.some((a) => a.after !== undefined);
}

export interface DeleteChange extends ChangeBase {
  action: 'delete';
  id: string;
  /** Why it goes: gone from the source, or out of scope. */
  reason: string;
  /**
   * Graph deletes security groups permanently (no /directory/deletedItems, no restore); users are soft-deleted
   * and restorable for 30 days (graph-facts §1).
   */
  permanent?: true;
}

/** How an unowned cloud object was matched to a source object. */
/** `sid`: a hard match on onPremisesSecurityIdentifier = the source objectSid, as Entra Connect records it. */
export type MatchRule = 'immutable-id' | 'sid' | 'soft-upn' | 'soft-mail';

/**
 * Take over an existing cloud object that adsync doesn't own yet: stamp adsync's anchor on it and write the
 * flowed attributes. `immutable-id` is a hard match (the user's onPremisesImmutableId is the anchor, e.g. a
 * tenant moving from Entra Connect); `soft-upn`/`soft-mail` are the opt-in soft matches (matching.softMatch).
 */
export interface AdoptChange extends ChangeBase, WritesAttributes {
  action: 'adopt';
  id: string;
  match: MatchRule;
  /** Why this object: e.g. `userPrincipalName ann@contoso.example`. */
  matchedOn: string;
  attributes: AttributeChange[];
}

export interface RestoreChange extends ChangeBase, WritesAttributes {
  action: 'restore';
  id: string;
  attributes: AttributeChange[];
  /**
   * Users only. Graph gives a restored user back the group memberships it had when it was deleted
   * (recover-from-deletions), but AD does not (a reanimated tombstone loses its linked attributes). Present:
   * right after the restore, apply reads the user's memberOf and removes it from every adsync-owned group (by
   * anchor) not listed here: the groups AD lists it in, and those whose membership adsync leaves alone (held,
   * members read in part). The removals are part of this change (ApplyResult.restoredMemberships).
   */
  memberships?: MemberRef[];
}

export interface AddMembersChange extends ChangeBase {
  action: 'add-members';
  kind: 'group';
  /** The group's id when it exists already; absent when it is created by this plan. */
  id?: string;
  members: MemberRef[];
}

export interface RemoveMembersChange extends ChangeBase {
  action: 'remove-members';
  kind: 'group';
  id: string;
  members: MemberRef[];
}

/** One SKU a licence change assigns (or re-assigns with other disabled plans), and the rule that wants it. */
export interface LicenseAdd {
  skuId: string;
  /** skuPartNumber (SPE_E3). */
  sku: string;
  /** Service plans left off: names (shown) and ids (what assignLicense takes), in the same order. */
  disabledPlans: string[];
  disabledPlanIds: string[];
  /** The user holds the SKU directly already with these disabled plans (the change re-assigns it). */
  before?: string[];
  /** `licenses[0]`. */
  rule: string;
}

/** One direct assignment a licence change takes away, the rule and why. */
export interface LicenseRemove {
  skuId: string;
  sku: string;
  rule: string;
  reason: string;
}

/**
 * Licences of one user (`licenses:` rules): one assignLicense call, adds and removes together. Group-inherited
 * licences never appear here (adsync never removes them). `id` is absent when this plan creates the user.
 */
export interface LicensesChange extends ChangeBase {
  action: 'licenses';
  kind: 'user';
  id?: string;
  add: LicenseAdd[];
  remove: LicenseRemove[];
}

/** How a sync-client-mastered cloud object was matched to a source object (src/engine/takeover.ts). */
export type MasteredMatch = 'immutable-id' | 'sid';

/**
 * Take over an object a sync client (Entra Connect, Cloud Sync) masters: switch its source of authority to the
 * cloud (`onPremisesSyncBehavior.isCloudManaged: true`, graph-facts-2 §2), then stamp adsync's anchor and write
 * the flowed attributes (the same diff an update shows). Selected by spec `matching.takeover`.
 */
export interface TakeoverChange extends ChangeBase, WritesAttributes {
  action: 'takeover';
  id: string;
  match: MasteredMatch;
  /** e.g. `onPremisesImmutableId 8Hc2…` or `onPremisesSecurityIdentifier S-1-5-21-…`. */
  matchedOn: string;
  attributes: AttributeChange[];
}

/**
 * Hand a taken-over object back to its sync client (spec `matching.release`): switch the source of authority
 * back (`isCloudManaged: false`) and remove adsync's anchor. The sync client takes it over on its next cycle;
 * `prerequisites` says what must hold for that (e.g. the hard-match takeover block off for users).
 */
export interface ReleaseChange extends ChangeBase {
  action: 'release';
  id: string;
  prerequisites: string[];
}

export type Change =
  | CreateChange
  | AdoptChange
  | TakeoverChange
  | UpdateChange
  | DeleteChange
  | RestoreChange
  | AddMembersChange
  | RemoveMembersChange
  | LicensesChange
  | ReleaseChange;
export type ChangeAction = Change['action'];

export const CHANGE_ACTIONS: readonly ChangeAction[] = [
  'create',
  'adopt',
  'takeover',
  'restore',
  'update',
  'add-members',
  'remove-members',
  'licenses',
  'delete',
  'release',
];

/** Something the plan shows but will not change, and why (never silently dropped). */
export interface ReportItem {
  /** Stable machine code, e.g. `graph-readonly-contact`, `cloud-only-collision`. */
  code: string;
  kind: ObjectKind;
  target: TargetSystem;
  anchor?: string;
  sourceDn?: string;
  source?: string;
  label: string;
  reason: string;
  /** The other object of a conflict (duplicate UPN or address, cloud-only collision), named. */
  other?: { label: string; sourceDn?: string; id?: string };
}

/**
 * The digest adsync keeps on each object it writes (its `adsyncDigest` extension): the flowed attributes as
 * last written, so the next plan can tell a cloud edit (drift) from a change in AD. Empty values are left
 * out; references count by anchor. Order-independent (sorted by name).
 */
export function attributesDigest(entries: Iterable<readonly [string, unknown]>): string {
  const parts: string[] = [];
  for (const [name, value] of entries) {
    if (value === null || value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) continue;
    parts.push(`${name}=${JSON.stringify(isObjectRef(value) ? (value.anchor ?? `id:${value.id}`) : value)}`);
  }
  parts.sort();
  return createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 22);
}
