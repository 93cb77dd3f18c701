/**
 * A plan is a sorted list of changes (a tagged union on `action`) plus report items: things adsync can't or
 * won't change, with the reason. The same shapes serve both directions (AD → Entra and writeback Entra → AD).
 */
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
  /** The object's source anchor (base64 of ms-DS-ConsistencyGuid or objectGUID). */
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

export interface CreateChange extends ChangeBase {
  action: 'create';
  attributes: AttributeChange[];
}

export interface UpdateChange extends ChangeBase {
  action: 'update';
  id: string;
  attributes: AttributeChange[];
}

export interface DeleteChange extends ChangeBase {
  action: 'delete';
  id: string;
  /** Why it goes: gone from the source, or out of scope. */
  reason: string;
}

export interface RestoreChange extends ChangeBase {
  action: 'restore';
  id: string;
  attributes: AttributeChange[];
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

export type Change = CreateChange | UpdateChange | DeleteChange | RestoreChange | AddMembersChange | RemoveMembersChange;
export type ChangeAction = Change['action'];

export const CHANGE_ACTIONS: readonly ChangeAction[] = ['create', 'restore', 'update', 'add-members', 'remove-members', 'delete'];

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
}
