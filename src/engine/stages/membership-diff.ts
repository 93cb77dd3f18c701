/**
 * Stage: membership diff. For every group that exists after apply (kept, adopted, restored or created): the
 * members to add and to remove, as set differences over anchors. Target member ids resolve to desired objects
 * once; which side has a member is then a per-group stamp in this run's side tables, not a set of strings (a
 * million members in a big forest), so the cost follows the changes, not the group sizes. Members adsync doesn't
 * own, held objects and objects this plan deletes are left alone; a member list read only in part adds and
 * never removes. Also: the adsync groups each restored user stays in (Graph restores its old memberships; apply
 * prunes the others right after the restore).
 */
import type {
  AddMembersChange,
  Change,
  MemberRef,
  RemoveMembersChange,
  ReportItem,
  RestoreChange,
} from '../../model/change.js';
import { targetLabel, type TargetObject, type TargetSystem } from '../../model/target.js';
import type { DesiredObject, DesiredState } from '../desired.js';
import { GROUP_TOO_LARGE } from '../scope.js';
import { reportOn } from '../reports.js';

export interface MembershipInput {
  system: TargetSystem;
  desired: DesiredState;
  /** Objects that exist after apply → their target id (undefined until created). */
  present: ReadonlyMap<DesiredObject, string | undefined>;
  /** Owned target objects by anchor. */
  owned: ReadonlyMap<string, TargetObject>;
  /** Objects adopted by this plan, by the anchor of the desired object: their members compare like an owned group's. */
  adopted: ReadonlyMap<string, TargetObject>;
  /** Target id → anchor of the owned objects. */
  anchorOfId: ReadonlyMap<string, string>;
  /** Anchors of the owned objects this plan deletes. */
  deleting: ReadonlySet<string>;
  /** Plan order of desired objects (member lists are sorted by it). */
  byRank: (a: DesiredObject, b: DesiredObject) => number;
  /** The plan's user restores: each gets the adsync groups it stays in (`memberships`). */
  restores: readonly RestoreChange[];
}

export function membershipDiff(input: MembershipInput): { changes: Change[]; reports: ReportItem[] } {
  const { system, desired, present, owned, anchorOfId, deleting, byRank } = input;
  const changes: (AddMembersChange | RemoveMembersChange)[] = [];
  const reports: ReportItem[] = [];
  // Memberships, as set differences. Target member ids resolve to desired objects once; which side has a
  // member is then a per-group stamp on the object, not a set of strings (a million members in a big forest).
  const memberRef = (m: DesiredObject, id: string | undefined): MemberRef =>
    id === undefined
      ? { anchor: m.anchor, kind: m.kind, label: m.label }
      : { anchor: m.anchor, kind: m.kind, id, label: m.label };
  // Each desired object gets a number for this run; per member the diff then does one Map lookup and the rest
  // on typed arrays (a million members: the Map operations were the largest part of a full plan's diff).
  const number = new Map<DesiredObject, number>();
  for (const o of desired.objects) number.set(o, number.size);
  const n = number.size;
  const isPresent = new Uint8Array(n);
  for (const o of present.keys()) {
    const i = number.get(o);
    if (i !== undefined) isPresent[i] = 1;
  }
  const desiredById = new Map<string, number>();
  for (const [anchor, t] of [...owned, ...input.adopted]) {
    const d = desired.byAnchor.get(anchor);
    const i = d === undefined ? undefined : number.get(d);
    if (i !== undefined) desiredById.set(t.id, i);
  }
  // Membership diff stamps (this run's side tables): the group whose target members include an object, and
  // the group whose desired members do; a fresh stamp per group makes clearing them unnecessary.
  const hadIn = new Int32Array(n);
  const wantIn = new Int32Array(n);
  let memberStamp = 0;
  for (const [group, groupId] of present) {
    if (group.kind !== 'group' || !group.members) continue;
    if (group.readOnlyMembers) {
      reports.push(
        reportOn(
          group,
          system,
          'members-not-synced',
          `${group.readOnlyMembers} member(s) are contacts or mail-enabled groups, which Graph can't write`,
        ),
      );
    }
    // A member list read only in part: add what it names, remove nothing (an absent member may be unread).
    const removable = group.membersUnread === undefined;
    if (!removable) {
      reports.push(
        reportOn(
          group,
          system,
          'members-unread',
          `the source could not read the group's members in full (${group.membersUnread}); members are added, none removed, until a full read`,
        ),
      );
    }
    for (const [why, dns] of Object.entries(group.skippedMembers ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      reports.push(
        reportOn(
          group,
          system,
          'members-skipped',
          `${dns.length} member(s) left out: ${why}: ${dns.slice(0, 5).join('; ')}${dns.length > 5 ? `, and ${dns.length - 5} more` : ''}`,
        ),
      );
    }
    const stamp = ++memberStamp;
    const current = groupId !== undefined ? (owned.get(group.anchor) ?? input.adopted.get(group.anchor)) : undefined;
    const currentIds = current?.members ?? [];
    const resolved = new Int32Array(currentIds.length).fill(-1);
    for (let i = 0; i < currentIds.length; i++) {
      const d = desiredById.get(currentIds[i]!);
      if (d === undefined) continue;
      resolved[i] = d;
      hadIn[d] = stamp;
    }
    const adds: DesiredObject[] = [];
    for (const m of group.members) {
      const i = number.get(m);
      if (i === undefined || isPresent[i] === 0 || wantIn[i] === stamp) continue; // held or blocked; or the same DN twice
      wantIn[i] = stamp;
      if (hadIn[i] !== stamp) adds.push(m);
    }
    const removes: MemberRef[] = [];
    for (let i = 0; i < currentIds.length && removable; i++) {
      const di = resolved[i]!;
      // Held objects (flow error, duplicate anchor) are left as they are: their memberships too.
      if (di >= 0) {
        const d = desired.objects[di]!;
        if (wantIn[di] !== stamp && !deleting.has(d.anchor) && !desired.held.has(d.anchor))
          removes.push(memberRef(d, currentIds[i]));
        continue;
      }
      const a = anchorOfId.get(currentIds[i]!);
      if (a === undefined || deleting.has(a) || desired.held.has(a)) continue; // members adsync doesn't own are left alone
      const t = owned.get(a)!;
      removes.push({ anchor: a, kind: t.kind, id: t.id, label: targetLabel(t) });
    }
    const base = {
      kind: 'group' as const,
      anchor: group.anchor,
      target: system,
      sourceDn: group.dn,
      source: group.source,
      label: group.label,
      rule: `${group.rule}.member`,
    };
    if (adds.length > 0) {
      adds.sort(byRank);
      const refs = adds.map((m) => memberRef(m, present.get(m)));
      changes.push({
        ...base,
        action: 'add-members',
        ...(groupId !== undefined ? { id: groupId } : {}),
        members: refs,
      });
    }
    if (removes.length > 0 && groupId !== undefined) {
      removes.sort(byLabel);
      changes.push({ ...base, action: 'remove-members', id: groupId, members: removes });
    }
  }

  // Graph gives a restored user back the memberships it had when deleted; AD's reanimated object has none of
  // them. The restore names the adsync-owned groups the user stays in, and apply removes it from the others
  // right after the restore (found by test/convergence: the next plan removed them).
  const restoredUsers = new Map<string, RestoreChange>();
  for (const c of input.restores) restoredUsers.set(c.anchor, c);
  if (restoredUsers.size > 0) {
    const stays = new Map<string, Map<string, MemberRef>>([...restoredUsers.keys()].map((a) => [a, new Map()]));
    const groupRef = (anchor: string, id: string | undefined, label: string): MemberRef =>
      id === undefined ? { anchor, kind: 'group', label } : { anchor, kind: 'group', id, label };
    for (const [group, groupId] of present) {
      if (group.kind !== 'group' || !group.members) continue;
      const ref = groupRef(group.anchor, groupId, group.label);
      if (group.membersUnread !== undefined) {
        for (const m of stays.values()) m.set(group.anchor, ref);
        continue;
      } // adsync removes nobody there
      for (const m of group.members) stays.get(m.anchor)?.set(group.anchor, ref);
    }
    // Held groups' memberships are left as they are, and so are those of groups too large to sync.
    for (const a of [
      ...desired.held,
      ...[...desired.excluded].filter(([, e]) => e.code === GROUP_TOO_LARGE).map(([x]) => x),
    ]) {
      const t = owned.get(a);
      if (t?.kind === 'group') for (const m of stays.values()) m.set(a, groupRef(a, t.id, targetLabel(t)));
    }
    for (const [a, c] of restoredUsers) c.memberships = [...stays.get(a)!.values()].sort(byLabel);
  }

  return { changes, reports };
}

/** Member references in plan order: by label (case-insensitive), then anchor. */
function byLabel(a: MemberRef, b: MemberRef): number {
  const x = a.label.toLowerCase();
  const y = b.label.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a.anchor < b.anchor ? -1 : 1;
}
