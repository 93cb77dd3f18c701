/**
 * Desired objects vs the target's objects → a deterministic, sorted list of changes and report items.
 * Join is by anchor (hard match). adsync changes or deletes only what it owns (objects carrying its anchor);
 * unowned (cloud-only) objects are never touched, and a collision with one is reported, not resolved.
 * Memberships are compared as sets of anchors, so the cost follows the changes, not the group sizes.
 */
import {
  attributesDigest,
  isObjectRef,
  type AttributeChange,
  type Change,
  type MatchRule,
  type ObjectRef,
  type ReportItem,
  type RestoreChange,
  type UpdateChange,
} from '../model/change.js';
import {
  addressesOf,
  targetLabel,
  type ObjectKind,
  type TargetObject,
  type TargetSnapshot,
  type TargetSystem,
  type TenantInfo,
} from '../model/target.js';
import type { SoftMatch } from '../spec/types.js';
import type { DesiredObject, DesiredState } from './desired.js';
import { sourceAnchorChanges } from './anchor-change.js';
import { DUPLICATE_QUARANTINED, quarantineDuplicates, quarantineUpn } from './resiliency.js';
import { applyFlowTiming, splitDigest, withSourceMemory } from './flow-timing.js';
import { REFERENCE_PROPERTIES } from './flows.js';
import { fallbackLocalPart, upnProblem } from './upn.js';
import { pendingAdoptions, sidIndex } from './match-sid.js';
import { GROUP_TOO_LARGE } from './scope.js';
import { membershipDiff } from './stages/membership-diff.js';
import { otherOf, reportOn as reportAbout, reportOnChange } from './reports.js';
import { sortChanges, sortReports } from './order.js';

export { sortChanges, sortReports } from './order.js';
import { holdRestores, RESTORE_HELD } from './stages/restores.js';

export interface DiffOptions {
  /** Opt-in soft match of unowned cloud users (spec `matching.softMatch`); default off. */
  softMatch?: SoftMatch;
  /**
   * Spec `matching.allowAdmins`: cloud users holding a directory role that hard match may still adopt, named
   * by userPrincipalName, object id or anchor (onPremisesImmutableId); compared case-insensitively. Default none.
   */
  allowAdmins?: readonly string[];
  /** Record how each object joined (`adsync explain`); off for plans, which don't need it. */
  recordMatches?: boolean;
  /**
   * Users leaving the source stay in the target this apply (`safety.deleteMode: disable-first`): they keep
   * their UPN and addresses, so a restore can't take them.
   */
  leaversStay?: boolean;
}

/** How each desired object joined the target (for `adsync explain`). */
export interface MatchInfo {
  rule: 'anchor' | MatchRule | 'takeover' | 'deleted-item' | 'none' | 'blocked';
  id?: string;
  detail: string;
}

export interface DiffResult {
  changes: Change[];
  reports: ReportItem[];
  /** How many objects adsync owns in the target (for percentage guard rails). */
  managed: number;
  /** Anchor → how the object joined the target. */
  matches: Map<string, MatchInfo>;
  /** The desired state with the values this run settled (quarantined, kept by flow timing); the input is unchanged. */
  desired: DesiredState;
}

/** Values Graph treats as "no value" compare equal: null, absent, '' and []. */
function isEmpty(v: unknown): boolean {
  return v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (isEmpty(a) || isEmpty(b)) return isEmpty(a) && isEmpty(b);
  if (Array.isArray(a) || Array.isArray(b) || (typeof a === 'object' && typeof b === 'object'))
    return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}

function attributeChange(name: string, before: unknown, after: unknown, flow: string): AttributeChange {
  const c: AttributeChange = { name, flow };
  if (!isEmpty(before)) c.before = before;
  if (!isEmpty(after)) c.after = after;
  return c;
}

/**
 * Entra's rule for UPNs whose suffix is not a verified domain: the user gets
 * `<mailNickname>@<initial domain>` (the MOERA), as Entra does for synced users (entra-connect-defaults §5).
 * Pure: the users it changes are copies, and so is every group with members (pointing at the copies, so
 * member identity holds across nested groups); the input state is left as it was. Nothing to change: the
 * input itself is returned.
 */
export function applyTenantRules(desired: DesiredState, tenant: TenantInfo | undefined): DesiredState {
  if (!tenant) return desired;
  const verified = new Set(tenant.verifiedDomains.map((d) => d.toLowerCase()));
  const copies = new Map<DesiredObject, DesiredObject>();
  for (const obj of desired.objects) {
    if (obj.kind !== 'user' || obj.readOnly) continue;
    const upn = obj.attrs.userPrincipalName;
    if (typeof upn !== 'string') continue;
    const suffix = upn.slice(upn.lastIndexOf('@') + 1).toLowerCase();
    const invalid = upnProblem(upn);
    if (verified.has(suffix) && invalid === undefined) continue;
    const nick =
      fallbackLocalPart(
        typeof obj.attrs.mailNickname === 'string' ? obj.attrs.mailNickname : upn.slice(0, upn.lastIndexOf('@')),
      ) ?? obj.anchor.replace(/[^A-Za-z0-9]/g, '');
    const moera = `${nick}@${tenant.initialDomain}`;
    copies.set(obj, {
      ...obj,
      attrs: { ...obj.attrs, userPrincipalName: moera },
      fallbackNames: ['userPrincipalName'],
      provenance: {
        ...obj.provenance,
        userPrincipalName: `${obj.provenance.userPrincipalName ?? 'default user.userPrincipalName'} (${invalid !== undefined ? `the UPN ${invalid}` : `suffix ${suffix} is not a verified domain`}: ${tenant.initialDomain} fallback)`,
      },
      label: moera,
      sortKey: moera.toLowerCase(),
    });
  }
  return withCopies(desired, copies);
}

/**
 * `desired` with some objects replaced by copies (`copies`: original → copy), and every group with members
 * copied too, pointing at the copies (so member identity holds across nested groups). The input is left as it
 * was; no copies: the input itself.
 */
export function withCopies(desired: DesiredState, copies: Map<DesiredObject, DesiredObject>): DesiredState {
  if (copies.size === 0) return desired;
  const groups: [DesiredObject, DesiredObject][] = [];
  for (const obj of desired.objects)
    if (obj.members !== undefined && obj.members.length > 0) {
      const copy = { ...(copies.get(obj) ?? obj) };
      copies.set(obj, copy);
      groups.push([obj, copy]);
    }
  const swap = (o: DesiredObject): DesiredObject => copies.get(o) ?? o;
  for (const [obj, copy] of groups) copy.members = obj.members!.map(swap);
  const repoint = <K>(m: Map<K, DesiredObject>): Map<K, DesiredObject> =>
    new Map([...m].map(([k, o]) => [k, swap(o)] as const));
  return {
    ...desired,
    objects: desired.objects.map(swap),
    byAnchor: repoint(desired.byAnchor),
    byDn: repoint(desired.byDn),
  };
}

/** Properties Graph needs on create that are not flows: a synced group is a plain security group. */
const CREATE_CONSTANTS: Partial<Record<ObjectKind, Record<string, unknown>>> = {
  group: { groupTypes: [], mailEnabled: false, securityEnabled: true },
};

/**
 * The digest of what apply leaves on the object: its flowed attributes plus create-only constants. References
 * (manager) are left out: they are set through `$ref` after the write that stores the digest, so a digest
 * that named them would vouch for a value an interrupted apply never wrote. `withReferences`: the digest
 * as earlier versions wrote it (still recognised for drift).
 */
export function desiredDigest(
  obj: DesiredObject,
  withReferences = false,
  attrs: Readonly<Record<string, unknown>> = obj.attrs,
): string {
  const entries: [string, unknown][] = Object.entries(attrs).filter(
    ([name]) => withReferences || !REFERENCE_PROPERTIES.has(name),
  );
  for (const [name, constant] of Object.entries(CREATE_CONSTANTS[obj.kind] ?? {})) entries.push([name, constant]);
  return withSourceMemory(attributesDigest(entries), obj);
}

const lower = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined);

/** The attribute list of a create, in name order, for one kind: flows and create-only constants. */
function createOrder(sample: DesiredObject): { name: string; constant?: unknown; ref?: true }[] {
  const names: { name: string; constant?: unknown; ref?: true }[] = Object.keys(sample.attrs).map((name) =>
    REFERENCE_PROPERTIES.has(name) ? { name, ref: true as const } : { name },
  );
  for (const [name, constant] of Object.entries(CREATE_CONSTANTS[sample.kind] ?? {})) names.push({ name, constant });
  return names.sort((a, b) => (a.name < b.name ? -1 : 1));
}

export function diff(
  desired: DesiredState,
  target: TargetSnapshot,
  system: TargetSystem = target.system,
  options: DiffOptions = {},
): DiffResult {
  const changes: Change[] = [];
  const reports: ReportItem[] = [...desired.reports];
  const matches = new Map<string, MatchInfo>();
  const values = settledValues();
  /**
   * An update (or a restore's update) dropped `a` because `holder` keeps that value: the object keeps its own, the
   * digest vouches for what it keeps (or the next plan would call the kept value drift), and a report says why.
   */
  const keepOwnValue = (
    c: UpdateChange | RestoreChange,
    a: AttributeChange,
    holder: TargetObject,
    reason: string,
  ): void => {
    const d = desired.byAnchor.get(c.anchor);
    if (d) {
      values.settle(d)[a.name] = a.before ?? null;
      c.digest = desiredDigest(d, false, values.of(d));
    }
    reports.push(reportOnChange(c, DUPLICATE_QUARANTINED, reason, otherOf(holder)));
  };
  const reportOn = (obj: DesiredObject, code: string, reason: string, other?: ReportItem['other']): void =>
    void reports.push(reportAbout(obj, system, code, reason, other));
  const record = options.recordMatches === true;
  const softMatch = options.softMatch ?? 'off';
  const allowAdmins = new Set((options.allowAdmins ?? []).map((a) => a.toLowerCase()));
  const adminAllowed = (holder: TargetObject, anchor: string): boolean =>
    allowAdmins.has(holder.id.toLowerCase()) ||
    allowAdmins.has(anchor.toLowerCase()) ||
    (lower(holder.attrs.userPrincipalName) !== undefined && allowAdmins.has(lower(holder.attrs.userPrincipalName)!));

  const owned = new Map<string, TargetObject>();
  const anchorOfId = new Map<string, string>();
  const labelOfId = new Map<string, string>();
  // Unowned (cloud-only) objects by the keys a desired object could collide with or be matched on.
  const unownedUpns = new Map<string, TargetObject>();
  const unownedAddresses = new Map<string, TargetObject>();
  const unownedImmutableIds = new Map<string, TargetObject>();
  for (const t of target.objects) {
    if (t.anchor !== undefined) {
      owned.set(t.anchor, t);
      anchorOfId.set(t.id, t.anchor);
      continue;
    }
    if (t.kind === 'user') {
      const upn = lower(t.attrs.userPrincipalName);
      if (upn) unownedUpns.set(upn, t);
      const immutableId = t.attrs.onPremisesImmutableId;
      if (typeof immutableId === 'string' && immutableId !== '') unownedImmutableIds.set(immutableId, t);
    }
    for (const a of addressesOf(t)) unownedAddresses.set(a, t);
  }
  // Graph keeps every address an object had in its proxyAddresses: an owned object holds them all for good.
  const ownedAddresses = new Map<string, TargetObject>();
  // (an object this plan deletes lets them go first: apply deletes users before it writes the others)
  for (const [anchor, t] of owned) {
    const deletedNow =
      !desired.byAnchor.has(anchor) &&
      !desired.held.has(anchor) &&
      desired.excluded.get(anchor)?.code !== GROUP_TOO_LARGE;
    if (!deletedNow || t.kind !== 'user') for (const a of addressesOf(t)) ownedAddresses.set(a, t);
  }
  const bySid = sidIndex(target.objects); // groups join like users: by the SID Entra Connect recorded
  const deleted = new Map<string, TargetObject>();
  for (const t of target.deleted) if (t.anchor !== undefined && !owned.has(t.anchor)) deleted.set(t.anchor, t);

  // The same AD object under a new anchor: an error for that object, never a delete and a create.
  reports.push(...sourceAnchorChanges(desired, owned, new Set(deleted.keys()), system));

  // A new object that meets an object adsync doesn't own on its UPN or address (and isn't adopted) is not
  // created: it claims no value from the others (found by test/convergence: it won a duplicate, was never
  // created, and the next plan gave the value to the loser instead).
  const adminHolder = (t: TargetObject): boolean => t.adminRoles !== undefined && t.adminRoles.length > 0;
  // (a tenant with no unowned object to meet, the usual steady state, skips the lookups)
  const anyToMeet = unownedUpns.size > 0 || unownedAddresses.size > 0;
  const meetsUnowned = (o: DesiredObject): boolean => {
    if (!anyToMeet || owned.has(o.anchor) || deleted.has(o.anchor)) return false;
    if (o.kind === 'user' && unownedImmutableIds.has(o.anchor)) return false; // hard match adopts it
    if (bySid.lookup(o.kind, o.sid) !== undefined) return false;
    const upnHolder = o.kind === 'user' ? unownedUpns.get(lower(o.attrs.userPrincipalName) ?? '') : undefined;
    if (upnHolder) return !((softMatch === 'upn' || softMatch === 'both') && !adminHolder(upnHolder));
    const mailHolder = unownedAddresses.get(lower(o.attrs.mail) ?? '');
    if (mailHolder)
      return !(
        (softMatch === 'mail' || softMatch === 'both') &&
        mailHolder.kind === 'user' &&
        o.kind === 'user' &&
        !adminHolder(mailHolder)
      );
    return false;
  };

  // Conflicts before they happen: two source objects that would get the same UPN or address. As Entra's
  // duplicate-attribute resiliency does, one keeps the value and the other has that value quarantined only.
  const { reports: quarantined, blocked } = quarantineDuplicates(
    desired.objects,
    (o) => desired.held.has(o.anchor) || meetsUnowned(o as DesiredObject),
    (anchor) => owned.get(anchor) ?? deleted.get(anchor),
    system,
    target.tenant?.initialDomain,
    (anchor) => !owned.has(anchor) && deleted.has(anchor),
    (property, value) =>
      property === 'userPrincipalName'
        ? unownedUpns.has(value) && softMatch !== 'upn' && softMatch !== 'both'
        : unownedAddresses.has(value) && softMatch !== 'mail' && softMatch !== 'both',
    (o) => values.settle(o as DesiredObject),
  );
  reports.push(...quarantined);

  // Member lists are sorted per group; ranking every object once makes those sorts integer compares.
  // (side tables of this run, not fields on the desired objects: the diff leaves its inputs as they were)
  const rank = new Map<DesiredObject, number>();
  [...desired.objects].sort(bySortKey).forEach((o, i) => rank.set(o, i));
  const byRank = (a: DesiredObject, b: DesiredObject) => rank.get(a)! - rank.get(b)!;

  // Objects that will exist after apply (kept, restored or created) → their target id (undefined until created).
  const present = new Map<DesiredObject, string | undefined>();
  const markPresent = (o: DesiredObject, id: string | undefined): void => {
    present.set(o, id);
  };
  const orders = new Map<ObjectKind, { name: string; constant?: unknown; ref?: true }[]>();

  for (const t of target.objects) labelOfId.set(t.id, targetLabel(t));
  const adopted = new Set<TargetObject>();
  // Reference attributes (manager) compare by anchor; the plan carries the referenced object's id when known.
  const refs = {
    anchorOfId: new Map([...pendingAdoptions(desired.objects, unownedImmutableIds, bySid), ...anchorOfId]),
    labelOfId,
    desired,
    owned,
    deleted,
  };
  // Adopted objects keep their memberships: their members compare like an owned group's.
  const adoptedByAnchor = new Map<string, TargetObject>();

  for (const obj of desired.objects) {
    if (obj.readOnly || desired.held.has(obj.anchor)) {
      if (!obj.readOnly && record)
        matches.set(obj.anchor, {
          rule: 'blocked',
          detail: 'held: a flow failed or the anchor is duplicated; left as it is',
        });
      continue;
    }
    const base = {
      kind: obj.kind,
      anchor: obj.anchor,
      target: system,
      sourceDn: obj.dn,
      source: obj.source,
      label: obj.label,
      rule: obj.rule,
    };
    const current = owned.get(obj.anchor);
    if (current && current.kind !== obj.kind) {
      reportOn(
        obj,
        'kind-mismatch',
        `the ${current.kind} ${current.id} in the target carries this anchor; adsync leaves both alone`,
      );
      record &&
        matches.set(obj.anchor, { rule: 'blocked', id: current.id, detail: `a ${current.kind} carries this anchor` });
      continue;
    }
    if (blocked.has(obj)) {
      record &&
        matches.set(obj.anchor, {
          rule: 'blocked',
          ...(current ? { id: current.id } : {}),
          detail: 'duplicate userPrincipalName or mail in the sources',
        });
      if (current) markPresent(obj, current.id); // it exists: keep its memberships, change nothing else
      continue;
    }
    if (current) {
      markPresent(obj, current.id);
      record &&
        matches.set(obj.anchor, {
          rule: 'anchor',
          id: current.id,
          detail: `hard match: the object carries adsync's anchor ${obj.anchor}`,
        });
      const attributes = changedAttributes(obj, current, refs, values);
      // A UPN or address a cloud-only object holds can't be written (Graph refuses the whole PATCH): the object
      // keeps its value, the rest flows, and the report says why (found by test/convergence).
      for (let i = attributes.length - 1; i >= 0; i--) {
        const a = attributes[i]!;
        const value = lower(a.after);
        let holder =
          value === undefined
            ? undefined
            : a.name === 'userPrincipalName' && obj.kind === 'user'
              ? unownedUpns.get(value)
              : a.name === 'mail'
                ? unownedAddresses.get(value)
                : undefined;
        if (!holder && a.name === 'mail' && value !== undefined) {
          const other = ownedAddresses.get(value);
          if (other && other.id !== current.id) holder = other;
        }
        if (!holder) continue;
        attributes.splice(i, 1);
        reportOn(
          obj,
          'cloud-only-collision',
          `the ${holder.anchor === undefined ? 'cloud-only ' : ''}${holder.kind} ${targetLabel(holder)} (${holder.id}) already has this ${a.name} (${value}); it stays ${JSON.stringify(a.before ?? null)} until that object lets it go`,
          { label: targetLabel(holder), id: holder.id },
        );
      }
      if (attributes.length > 0) {
        const digest = desiredDigest(obj, false, values.of(obj));
        // The digest adsync wrote last equals what AD says now: AD did not change, so the cloud did (drift).
        // Not for references: the digest can't tell a manager removed in the cloud from one never set.
        const was = splitDigest(current.digest).base;
        const drifted =
          was !== undefined &&
          (was === splitDigest(digest).base || was === splitDigest(desiredDigest(obj, true, values.of(obj))).base);
        // drift is data on the attribute change (the renderers say it); the flow stays the flow
        if (drifted) for (const a of attributes) if (!REFERENCE_PROPERTIES.has(a.name)) a.drift = true;
        changes.push({ ...base, action: 'update', id: current.id, attributes, digest });
      }
      continue;
    }
    const gone = deleted.get(obj.anchor);
    if (gone) {
      markPresent(obj, gone.id);
      record &&
        matches.set(obj.anchor, {
          rule: 'deleted-item',
          id: gone.id,
          detail: 'hard match in /directory/deletedItems: restored, not re-created',
        });
      changes.push({
        ...base,
        action: 'restore',
        id: gone.id,
        attributes: changedAttributes(obj, gone, refs, values),
        digest: desiredDigest(obj, false, values.of(obj)),
      });
      continue;
    }
    // Unowned cloud objects: a hard match by onPremisesImmutableId is adopted; UPN and address holders are
    // collisions unless soft match is on (and the holder is no admin).
    let holder: TargetObject | undefined;
    let on: { what: string; value: string } | undefined;
    // (a tenant with no unowned objects, the usual first run, skips the lookups)
    const anyUnowned =
      unownedUpns.size > 0 || unownedAddresses.size > 0 || unownedImmutableIds.size > 0 || bySid.size > 0;
    const upn = anyUnowned && obj.kind === 'user' ? lower(values.of(obj).userPrincipalName) : undefined;
    const mail = anyUnowned ? lower(values.of(obj).mail) : undefined;
    const byImmutableId = anyUnowned && obj.kind === 'user' ? unownedImmutableIds.get(obj.anchor) : undefined;
    let match: MatchRule | undefined;
    const sidHolder = anyUnowned && !byImmutableId ? bySid.lookup(obj.kind, obj.sid) : undefined;
    if (byImmutableId && !adopted.has(byImmutableId)) {
      holder = byImmutableId;
      match = 'immutable-id';
      on = { what: 'onPremisesImmutableId', value: obj.anchor };
    } else if (sidHolder && !adopted.has(sidHolder)) {
      holder = sidHolder;
      match = 'sid';
      on = { what: 'onPremisesSecurityIdentifier', value: obj.sid! };
    } else {
      const upnHolder = upn ? unownedUpns.get(upn) : undefined;
      const mailHolder = mail ? unownedAddresses.get(mail) : undefined;
      if (upnHolder) {
        holder = upnHolder;
        on = { what: 'userPrincipalName', value: upn! };
        if (softMatch === 'upn' || softMatch === 'both') match = 'soft-upn';
      } else if (mailHolder) {
        holder = mailHolder;
        on = { what: 'address', value: mail! };
        if ((softMatch === 'mail' || softMatch === 'both') && mailHolder.kind === 'user' && obj.kind === 'user')
          match = 'soft-mail';
      }
    }
    if (holder && on) {
      const admin = holder.adminRoles !== undefined && holder.adminRoles.length > 0;
      // Hard match never takes over a role holder (Entra Connect blocks it too, graph-facts-2 §3), nor a user
      // whose roles are unknown, unless matching.allowAdmins names it.
      if (
        (match === 'immutable-id' || (match === 'sid' && holder.kind === 'user')) &&
        (admin || target.adminRolesUnread !== undefined)
      ) {
        const who = `the cloud user ${targetLabel(holder)} (${holder.id})`;
        const carries =
          match === 'sid'
            ? `records this object's SID (${on.value}) as onPremisesSecurityIdentifier`
            : 'carries this anchor as onPremisesImmutableId';
        if (!adminAllowed(holder, obj.anchor)) {
          const reason = admin
            ? `${who} ${carries} but holds an admin role (${holder.adminRoles!.join(', ')}); hard match never takes over a privileged account, and adsync never writes over it (name it in matching.allowAdmins to adopt it)`
            : `${who} ${carries}, but directory role holders could not be read (${target.adminRolesUnread}), so adsync can't tell it holds no admin role; it is not adopted (grant RoleManagement.Read.Directory, or name it in matching.allowAdmins)`;
          reports.push(
            reportAbout(obj, system, admin ? 'hard-match-admin' : 'hard-match-roles-unread', reason, otherOf(holder)),
          );
          record &&
            matches.set(obj.anchor, {
              rule: 'blocked',
              id: holder.id,
              detail: `hard match refused: ${targetLabel(holder)} ${admin ? 'holds an admin role' : 'may hold an admin role (roles unread)'}`,
            });
          continue;
        }
        if (admin) {
          reportOn(
            obj,
            'hard-match-admin-allowed',
            `${who} holds an admin role (${holder.adminRoles!.join(', ')}) and is adopted by hard match because matching.allowAdmins names it`,
            { label: targetLabel(holder), id: holder.id },
          );
        }
      }
      if (match && match !== 'immutable-id' && match !== 'sid' && admin) {
        reportOn(
          obj,
          'soft-match-admin',
          `the cloud user ${targetLabel(holder)} (${holder.id}) has the same ${on.what} but holds an admin role (${holder.adminRoles!.join(', ')}); adsync never soft-matches an admin, and never writes over it`,
          { label: targetLabel(holder), id: holder.id },
        );
        record &&
          matches.set(obj.anchor, {
            rule: 'blocked',
            id: holder.id,
            detail: `soft match refused: ${targetLabel(holder)} holds an admin role`,
          });
        continue;
      }
      if (match && !adopted.has(holder) && holder.kind === obj.kind) {
        adopted.add(holder);
        adoptedByAnchor.set(obj.anchor, holder);
        markPresent(obj, holder.id);
        const matchedOn = `${on.what} ${on.value}`;
        record &&
          matches.set(obj.anchor, {
            rule: match,
            id: holder.id,
            detail: `${match === 'immutable-id' || match === 'sid' ? 'hard match' : 'soft match'} on ${matchedOn}: adopted`,
          });
        changes.push({
          ...base,
          action: 'adopt',
          id: holder.id,
          match,
          matchedOn,
          attributes: changedAttributes(obj, holder, refs, values),
          digest: desiredDigest(obj, false, values.of(obj)),
        });
        continue;
      }
      reportOn(
        obj,
        'cloud-only-collision',
        `the cloud-only ${holder.kind} ${targetLabel(holder)} (${holder.id}) already has this ${on.what} (${on.value}); adsync never takes over objects it doesn't own${softMatch === 'off' && holder.kind === 'user' && obj.kind === 'user' ? ' (matching.softMatch adopts it)' : ''}`,
        { label: targetLabel(holder), id: holder.id },
      );
      record &&
        matches.set(obj.anchor, {
          rule: 'blocked',
          id: holder.id,
          detail: `collides with the cloud-only ${holder.kind} ${targetLabel(holder)} on ${on.what}`,
        });
      continue;
    }
    markPresent(obj, undefined);
    record && matches.set(obj.anchor, { rule: 'none', detail: 'no cloud object carries the anchor: created' });
    let order = orders.get(obj.kind);
    if (!order) orders.set(obj.kind, (order = createOrder(obj)));
    const attributes: AttributeChange[] = [];
    for (const { name, constant, ref } of order) {
      if (constant !== undefined) {
        attributes.push({ name, after: constant, flow: `default ${obj.kind} (security group)` });
        continue;
      }
      const value = values.of(obj)[name];
      if (isEmpty(value)) continue;
      attributes.push({
        name,
        after: ref ? objectRef(value as string, refs) : value,
        flow: obj.provenance[name] ?? 'default',
      });
    }
    // the source value a fallback name came from is remembered with the digest (flow-timing.ts)
    const digest = obj.fallbackNames ? desiredDigest(obj, false, values.of(obj)) : undefined;
    changes.push({ ...base, action: 'create', attributes, ...(digest?.includes('~') ? { digest } : {}) });
  }

  // Deletes: owned objects no longer desired. Held objects (flow errors, duplicates) are never deleted.
  const deleting = new Set<string>();
  for (const [anchor, t] of owned) {
    if (desired.byAnchor.has(anchor) || desired.held.has(anchor)) continue;
    const ex = desired.excluded.get(anchor);
    if (ex?.code === GROUP_TOO_LARGE) {
      // Entra Connect keeps an existing group that grows past the limit (its member flow errors).
      reports.push({
        code: GROUP_TOO_LARGE,
        kind: t.kind,
        target: system,
        anchor,
        sourceDn: ex.dn,
        source: ex.source,
        label: targetLabel(t),
        reason: `${ex.reason}: the existing group is left as it is`,
      });
      continue;
    }
    const reason = ex ? `out of scope: ${ex.reason}` : (desired.notRead?.reason ?? 'no longer in the source');
    deleting.add(anchor);
    // graph-facts §1: users (and Microsoft 365 groups) go to deleted items; security groups are deleted permanently.
    const permanent =
      t.kind === 'group' && !(Array.isArray(t.attrs.groupTypes) && t.attrs.groupTypes.includes('Unified'));
    changes.push({
      action: 'delete',
      kind: t.kind,
      anchor,
      target: system,
      ...(ex ? { sourceDn: ex.dn, source: ex.source } : {}),
      label: targetLabel(t),
      rule: ex ? `sources.${ex.source}.scope` : (desired.notRead?.rule ?? 'ownership'),
      id: t.id,
      reason,
      ...(permanent ? { permanent: true as const } : {}),
    });
  }
  for (const obj of desired.objects) {
    if (obj.readOnly && owned.has(obj.anchor)) {
      reportOn(obj, 'owned-now-read-only', `${obj.readOnly.reason}; the existing cloud object is left as it is`);
    }
  }

  // A new user can't take a UPN or address another object keeps after this apply: as Entra's duplicate-attribute
  // resiliency does, each such value is quarantined and the object is created with the rest.
  const quarantineCreates = (holderOf: (value: string) => TargetObject | undefined): void => {
    for (let i = changes.length - 1; i >= 0; i--) {
      const c = changes[i]!;
      if (c.action !== 'create' || c.kind !== 'user') continue;
      const obj = desired.byAnchor.get(c.anchor)!;
      const clashes = (
        [
          ['userPrincipalName', lower(values.of(obj).userPrincipalName)],
          ['mail', lower(values.of(obj).mail)],
        ] as const
      ).flatMap(([name, v]) => {
        const holder = v === undefined ? undefined : holderOf(v);
        return holder === undefined || holder.anchor === c.anchor ? [] : [[name, v, holder] as const];
      });
      // Duplicate-attribute resiliency: each value is quarantined, the object is created with the rest.
      const initial = target.tenant?.initialDomain;
      for (const clash of clashes) {
        const holder = clash[2];
        let outcome: string;
        if (clash[0] === 'mail') {
          values.settle(obj).mail = null;
          c.attributes = c.attributes.filter((a) => a.name !== 'mail');
          outcome = 'created without it';
        } else if (initial !== undefined) {
          const q = quarantineUpn(String(values.of(obj).userPrincipalName), obj.anchor, initial);
          values.settle(obj).userPrincipalName = q;
          for (const a of c.attributes) if (a.name === 'userPrincipalName') a.after = q;
          outcome = `created as ${q}`;
        } else {
          outcome = 'not created until it is free';
        }
        reportOn(
          obj,
          initial !== undefined || clash[0] === 'mail' ? DUPLICATE_QUARANTINED : 'duplicate-in-source',
          `${clash[0]} ${clash[1]} is still held by ${targetLabel(holder)} (${holder.id}), which keeps it after this apply; the value is quarantined: ${outcome}`,
          { label: targetLabel(holder), id: holder.id },
        );
      }
      if (clashes.length === 0) continue;
      if (initial === undefined && clashes.some(([name]) => name === 'userPrincipalName')) {
        changes.splice(i, 1);
        present.delete(obj);
        record &&
          matches.set(obj.anchor, {
            rule: 'blocked',
            detail: 'userPrincipalName held by another object and no tenant to quarantine it in',
          });
      } else if (c.digest !== undefined) c.digest = desiredDigest(obj, false, values.of(obj));
    }
  };

  // A new user can't take a UPN or address an owned object keeps after this apply (one held as it is, or one
  // whose own change was refused): it is not created until the value is free (found by test/convergence:
  // the create failed with 400 on every apply).
  {
    const kept = new Map<string, string>(); // lower-cased UPN or address → anchor of the owned object keeping it
    const updated = new Map<string, Change>();
    for (const c of changes) if (c.action === 'update') updated.set(c.anchor, c);
    for (const [anchor, t] of owned) {
      if (deleting.has(anchor) || t.kind !== 'user') continue;
      // what it keeps: the values its own update doesn't change, and every address it ever had
      const u = updated.get(anchor);
      const keeps = (name: string): unknown =>
        u && u.action === 'update' && u.attributes.some((x) => x.name === name) ? undefined : t.attrs[name];
      for (const v of [keeps('userPrincipalName'), keeps('mail'), ...addressesOf(t)]) {
        const l = lower(v);
        if (l) kept.set(l, anchor);
      }
    }
    // an update can't take such a value either: the user keeps its own, the rest flows
    for (let i = changes.length - 1; i >= 0; i--) {
      const c = changes[i]!;
      if (c.action !== 'update' || c.kind !== 'user') continue;
      for (let j = c.attributes.length - 1; j >= 0; j--) {
        const a = c.attributes[j]!;
        const v = a.name === 'userPrincipalName' || a.name === 'mail' ? lower(a.after) : undefined;
        const by = v === undefined ? undefined : kept.get(v);
        if (by === undefined || by === c.anchor) continue;
        const holder = owned.get(by)!;
        c.attributes.splice(j, 1);
        keepOwnValue(
          c,
          a,
          holder,
          `${a.name} ${v} is still held by ${targetLabel(holder)} (${holder.id}), which keeps it after this apply; it stays ${JSON.stringify(a.before ?? null)} until it is free`,
        );
      }
      if (c.attributes.length === 0) changes.splice(i, 1);
    }
    quarantineCreates((v) => {
      const by = kept.get(v);
      return by === undefined ? undefined : owned.get(by);
    });
  }

  // Held restores (found by test/convergence: a restore failed on every apply). Graph v1.0 brings a user back
  // under the UPN and addresses it had when deleted (the restore takes no body) and refuses while a live object
  // holds one of them. Apply restores after the updates, one at a time in plan order, each followed by its own
  // update (src/model/target.ts APPLY_STEPS); a restore whose old UPN or address is held at that point, by an
  // object that keeps it, is held: the object stays in deleted items and a report names the holder. The holder
  // keeps the value after this apply too, so the next plan holds it again until the value is free.
  const restoredValues = holdRestores(
    changes,
    target,
    deleted,
    (anchor) => deleting.has(anchor) && !options.leaversStay,
    (c, holder, value) => {
      const obj = desired.byAnchor.get(c.anchor);
      if (obj) present.delete(obj);
      const what = value.property === 'userPrincipalName' ? 'the UPN' : 'the address';
      reports.push(
        reportOnChange(
          c,
          RESTORE_HELD,
          `not restored: Graph restores it under ${what} it had (${value.value}), which ${holder.anchor === undefined ? 'the cloud-only ' : ''}${holder.kind} ` +
            `${targetLabel(holder)} (${holder.id}) holds after this apply; it stays in deleted items (${c.id}) until that object lets the value go`,
          otherOf(holder),
        ),
      );
      record &&
        matches.set(c.anchor, {
          rule: 'blocked',
          id: c.id,
          detail: `in deleted items; its restore is held: ${targetLabel(holder)} holds ${value.value}`,
        });
    },
    (c, a, holder) => {
      keepOwnValue(
        c,
        a,
        holder,
        `${a.name} ${String(a.after)} is held by ${targetLabel(holder)} (${holder.id}) when this object is restored; it stays ${JSON.stringify(a.before ?? null)} until it is free`,
      );
    },
  );
  // ...and a new user can't take a UPN or address a restored user comes back with or takes
  quarantineCreates((v) => restoredValues.get(v));

  // A reference (manager) to an object that won't exist after apply (blocked, or left in deleted items) can't
  // be set: it is unset, as Entra Connect leaves a reference to an object it doesn't export (found by
  // test/convergence: the PUT of a deleted manager failed on every apply).
  for (let i = changes.length - 1; i >= 0; i--) {
    const c = changes[i]!;
    if (c.action !== 'create' && c.action !== 'update' && c.action !== 'restore' && c.action !== 'adopt') continue;
    for (let j = c.attributes.length - 1; j >= 0; j--) {
      const a = c.attributes[j]!;
      if (
        !REFERENCE_PROPERTIES.has(a.name) ||
        !isObjectRef(a.after) ||
        a.after.anchor === undefined ||
        present.has(desired.byAnchor.get(a.after.anchor)!)
      )
        continue;
      if (a.before === undefined) c.attributes.splice(j, 1);
      else delete a.after;
    }
    if (c.action === 'update' && c.attributes.length === 0) changes.splice(i, 1);
  }

  // Memberships, as set differences (stages/membership-diff.ts), and the groups a restored user stays in.
  const members = membershipDiff({
    system,
    desired,
    present,
    owned,
    adopted: adoptedByAnchor,
    anchorOfId,
    deleting,
    byRank,
    restores: changes.filter((c): c is RestoreChange => c.action === 'restore' && c.kind === 'user'),
  });
  changes.push(...members.changes);
  reports.push(...members.reports);

  return {
    changes: sortChanges(changes),
    reports: sortReports(reports),
    managed: owned.size,
    matches,
    desired: withCopies(desired, values.copies()),
  };
}

/**
 * Values this run settles apart from the flows (a quarantined duplicate, a value the cloud keeps by flow timing,
 * an address another object holds): copies of the objects' attrs, one per settled object, so the diff leaves
 * the desired state it was given as it was (DiffResult.desired is the state with the settled values).
 */
interface SettledValues {
  of(o: DesiredObject): Readonly<Record<string, unknown>>;
  settle(o: DesiredObject): Record<string, unknown>;
}

function settledValues(): SettledValues & { copies(): Map<DesiredObject, DesiredObject> } {
  const settled = new Map<DesiredObject, Record<string, unknown>>();
  return {
    of: (o) => settled.get(o) ?? o.attrs,
    settle(o) {
      let a = settled.get(o);
      if (a === undefined) settled.set(o, (a = { ...o.attrs }));
      return a;
    },
    copies: () => new Map([...settled].map(([o, attrs]) => [o, { ...o, attrs }] as const)),
  };
}

interface RefContext {
  anchorOfId: Map<string, string>;
  labelOfId: Map<string, string>;
  desired: DesiredState;
  owned: Map<string, TargetObject>;
  deleted: Map<string, TargetObject>;
}

/** A reference by anchor → the object it names, with its target id when it exists. */
function objectRef(anchor: string, refs: RefContext): ObjectRef {
  const m = refs.desired.byAnchor.get(anchor);
  const t = refs.owned.get(anchor) ?? refs.deleted.get(anchor);
  const ref: ObjectRef = {
    anchor,
    kind: m?.kind ?? t?.kind ?? 'user',
    label: m?.label ?? (t ? targetLabel(t) : anchor),
  };
  if (t) ref.id = t.id;
  return ref;
}

function bySortKey(a: DesiredObject, b: DesiredObject): number {
  return a.sortKey < b.sortKey
    ? -1
    : a.sortKey > b.sortKey
      ? 1
      : a.anchor < b.anchor
        ? -1
        : a.anchor > b.anchor
          ? 1
          : 0;
}

/** `a.b` names a member of a complex property (onPremisesExtensionAttributes.extensionAttribute1). */
function targetValue(current: TargetObject, name: string): unknown {
  if (name in current.attrs) return current.attrs[name];
  const path = splitName(name);
  if (path === undefined) return undefined;
  const outer = current.attrs[path[0]];
  return typeof outer === 'object' && outer !== null ? (outer as Record<string, unknown>)[path[1]] : undefined;
}

// Property names are few and compared for every object: split each once.
const splitNames = new Map<string, [string, string] | undefined>();
function splitName(name: string): [string, string] | undefined {
  if (splitNames.has(name)) return splitNames.get(name);
  const dot = name.indexOf('.');
  const path: [string, string] | undefined = dot < 0 ? undefined : [name.slice(0, dot), name.slice(dot + 1)];
  splitNames.set(name, path);
  return path;
}

function changedAttributes(
  obj: DesiredObject,
  current: TargetObject,
  refs: RefContext,
  values: SettledValues,
): AttributeChange[] {
  // values the cloud keeps (initial, sourceHasValue, sourceChanged flows); settled only when one differs
  if (obj.timing) applyFlowTiming(obj, current, () => values.settle(obj));
  const attrs = values.of(obj);
  const out: AttributeChange[] = [];
  for (const name in attrs) {
    const value = attrs[name];
    const before = targetValue(current, name);
    if (REFERENCE_PROPERTIES.has(name)) {
      // the target holds an id; compare the anchors (an object adsync doesn't own has none: always a change)
      const beforeAnchor = typeof before === 'string' ? refs.anchorOfId.get(before) : undefined;
      const same =
        typeof before === 'string' ? beforeAnchor !== undefined && beforeAnchor === value : (value ?? null) === null;
      if (same) continue;
      const c: AttributeChange = { name, flow: obj.provenance[name] ?? 'default' };
      if (typeof before === 'string')
        c.before = {
          ...(beforeAnchor !== undefined ? { anchor: beforeAnchor } : {}),
          kind: 'user',
          id: before,
          label: refs.labelOfId.get(before) ?? before,
        } satisfies ObjectRef;
      if (typeof value === 'string') c.after = objectRef(value, refs);
      out.push(c);
      continue;
    }
    if (!sameValue(before, value)) out.push(attributeChange(name, before, value, obj.provenance[name] ?? 'default'));
  }
  return out;
}
