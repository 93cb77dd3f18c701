/**
 * Objects a sync client masters (Entra Connect, Cloud Sync: `onPremisesSyncEnabled: true`), and moving them to
 * adsync in reviewed waves (issue 13; graph-facts-2 §1–§3). Pure: two stages around the diff.
 *
 * `prepareTakeovers` (before the diff) finds, for every desired object adsync doesn't own yet, its cloud twin
 * among the objects a sync client created — users by `onPremisesImmutableId` = anchor, users and groups by
 * `onPremisesSecurityIdentifier` = the source objectSid — and decides:
 *   - still mastered, not selected by `matching.takeover` → a `mastered-by-sync-client` report; the object is
 *     held (never created, updated, adopted or deleted; its memberships are not written either);
 *   - selected (and no directory role holder unless `matching.allowAdmins` names it) → taken over: the diff sees
 *     the twin as if adsync owned it, so the attribute and membership diff is the one an update would show, and
 *     `finishTakeovers` turns that update into a `takeover` change;
 *   - selected by `matching.release` and owned by adsync after a takeover → a `release` change.
 * A twin already converted (source of authority in the cloud, not owned: an interrupted takeover) is taken over
 * again when selected, so a killed apply resumes like any other change.
 *
 * Coexistence: while directory sync is on and Entra Connect's hard-match takeover block is not known to be on,
 * a user adsync would create carries `onPremisesImmutableId` = anchor, which Entra Connect would hard-match its AD
 * twin into (graph-facts-2 §3.3). Such creates are held and reported (`sync-client-may-hard-match`).
 */
import type { AttributeChange, Change, MasteredMatch, ReleaseChange, ReportItem } from '../model/change.js';
import { targetLabel, type DirectorySyncStatus, type TargetObject, type TargetSnapshot } from '../model/target.js';
import { otherOf, reportOn } from './reports.js';
import { sameSid } from '../model/sid.js';
import type { MatchingSpec, SoftMatch } from '../spec/types.js';
import type { DesiredObject, DesiredState } from './desired.js';
import type { MatchInfo } from './diff.js';
import { compileExpression, referencedAttributes, type CompiledExpression, type FlowContext } from './expr.js';

// ---- selectors (matching.takeover / matching.release)

export interface WaveSelectors {
  takeover?: CompiledExpression;
  release?: CompiledExpression;
}

/** The waves an object is in (set on desired objects by buildDesired). */
export interface Waves {
  takeover?: true;
  release?: true;
  /** A selector failed on this object: it is in no wave (and reported). */
  error?: string;
}

/** Compiles the selectors; `false` (the default) compiles to nothing, so the common spec costs nothing. */
export function compileWaveSelectors(matching: Partial<Pick<MatchingSpec, 'takeover' | 'release'>> | undefined): {
  selectors: WaveSelectors;
  /** Source attributes the selectors read (the connectors must fetch them), as spelled in the expressions. */
  attributes: string[];
} {
  const selectors: WaveSelectors = {};
  const attributes: string[] = [];
  for (const key of ['takeover', 'release'] as const) {
    const text = matching?.[key]?.trim();
    if (text === undefined || text === '' || text === 'false') continue;
    selectors[key] = compileExpression(text);
    attributes.push(...referencedAttributes(text));
  }
  return { selectors, attributes };
}

/** Evaluates the selectors over one source object. Anything but `true` is "not selected". */
export function selectWaves(selectors: WaveSelectors | undefined, ctx: FlowContext): Waves | undefined {
  if (selectors === undefined || (selectors.takeover === undefined && selectors.release === undefined))
    return undefined;
  const out: Waves = {};
  for (const key of ['takeover', 'release'] as const) {
    const f = selectors[key];
    if (f === undefined) continue;
    try {
      if (f(ctx) === true) out[key] = true;
    } catch (err) {
      return { error: `matching.${key} failed: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  return out.takeover || out.release ? out : undefined;
}

// ---- the stages

export interface TakeoverInfo {
  id: string;
  match: MasteredMatch;
  matchedOn: string;
}

export interface PreparedTakeovers {
  /** The desired state the diff sees: the same objects, more of them held. */
  desired: DesiredState;
  /** The snapshot the diff sees: taken-over twins carry adsync's anchor (as they will after apply). */
  target: TargetSnapshot;
  /** anchor → the twin taken over. */
  takeovers: Map<string, TakeoverInfo>;
  releases: ReleaseChange[];
  /** Anchors held because a sync client masters their twin (or is about to, after a release). */
  heldMastered: Map<string, string>;
  reports: ReportItem[];
}

export interface TakeoverOptions {
  allowAdmins?: readonly string[];
  softMatch?: SoftMatch;
}

const lower = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined);

/** What must hold before a release completes: users need Entra Connect's hard-match takeover block off. */
export function releasePrerequisites(kind: TargetObject['kind'], sync: DirectorySyncStatus | undefined): string[] {
  const out: string[] = [];
  if (kind === 'user') {
    const flag = sync?.features?.['blockCloudObjectTakeoverThroughHardMatchEnabled'];
    out.push(
      flag === false
        ? 'blockCloudObjectTakeoverThroughHardMatchEnabled is off (as read): Entra Connect can take the user back; turn it on again once it has'
        : `turn blockCloudObjectTakeoverThroughHardMatchEnabled off (PATCH /directory/onPremisesSynchronization/{id}; ${flag === true ? 'it is on' : 'adsync could not read it'}), or Entra Connect can't take the user back; turn it on again once it has`,
    );
  } else {
    out.push('remove cloud-only members and access-package assignments first: the sync client keeps only AD members');
  }
  out.push(
    'keep the object in the sync client scope; its next cycle (Connect 2.5.76.0 or later) takes it over and AD values overwrite cloud edits',
  );
  return out;
}

export function prepareTakeovers(
  desired: DesiredState,
  target: TargetSnapshot,
  options: TakeoverOptions = {},
): PreparedTakeovers {
  const reports: ReportItem[] = [];
  const takeovers = new Map<string, TakeoverInfo>();
  const releases: ReleaseChange[] = [];
  const heldMastered = new Map<string, string>();
  const held = new Set(desired.held);
  const heldDns = new Set(desired.heldDns ?? []);
  const allow = new Set((options.allowAdmins ?? []).map((a) => a.toLowerCase()));
  const system = target.system;

  const owned = new Map<string, TargetObject>();
  // Unowned objects a sync client created (mastered now, or converted: they keep their onPremises* mirrors).
  const byImmutableId = new Map<string, TargetObject>();
  const bySid = new Map<string, TargetObject>();
  const masteredByKey = new Map<string, TargetObject>(); // soft-match keys of mastered users (UPN, mail)
  for (const t of target.objects) {
    if (t.anchor !== undefined) {
      owned.set(t.anchor, t);
      continue;
    }
    if (!t.syncClientMastered && t.onPremisesSid === undefined) continue;
    const immutableId = t.attrs['onPremisesImmutableId'];
    if (t.kind === 'user' && typeof immutableId === 'string' && immutableId !== '') byImmutableId.set(immutableId, t);
    if (t.onPremisesSid !== undefined) bySid.set(`${t.kind} ${t.onPremisesSid.toUpperCase()}`, t);
    if (t.syncClientMastered && t.kind === 'user')
      for (const k of [lower(t.attrs['userPrincipalName']), lower(t.attrs['mail'])]) if (k) masteredByKey.set(k, t);
  }
  if (
    owned.size === 0 &&
    byImmutableId.size === 0 &&
    bySid.size === 0 &&
    masteredByKey.size === 0 &&
    target.directorySync?.enabled !== true
  )
    return { desired, target, takeovers, releases, heldMastered, reports };

  const hold = (obj: DesiredObject, why: string): void => {
    held.add(obj.anchor);
    heldDns.add(obj.ndn);
    heldMastered.set(obj.anchor, why);
  };
  const report = (obj: DesiredObject, code: string, reason: string, other?: TargetObject): void =>
    void reports.push(reportOn(obj, system, code, reason, other ? otherOf(other) : undefined));
  const claimed = new Set<TargetObject>();
  const replaced = new Map<TargetObject, TargetObject>();

  for (const obj of desired.objects) {
    if (obj.readOnly || desired.held.has(obj.anchor) || (obj.kind !== 'user' && obj.kind !== 'group')) continue;
    const waves = obj.waves;
    if (waves?.error !== undefined)
      report(obj, 'wave-selector-error', `${waves.error}; it is in no takeover or release wave`);
    const mine = owned.get(obj.anchor);
    if (mine !== undefined) {
      // Release: only an object that came from a sync client (it carries the SID that client recorded).
      if (waves?.release && mine.kind === obj.kind && mine.onPremisesSid !== undefined) {
        hold(obj, 'released');
        releases.push({
          action: 'release',
          kind: obj.kind,
          anchor: obj.anchor,
          target: system,
          sourceDn: obj.dn,
          source: obj.source,
          label: obj.label,
          rule: 'matching.release',
          id: mine.id,
          prerequisites: releasePrerequisites(obj.kind, target.directorySync),
        });
      } else if (waves?.release && mine.onPremisesSid === undefined) {
        report(
          obj,
          'release-not-synced',
          'matching.release selects it, but no sync client ever mastered it (adsync created it): there is nothing to hand back',
        );
      }
      continue;
    }
    let twin: TargetObject | undefined;
    let match: MasteredMatch | undefined;
    let matchedOn = '';
    const byId = obj.kind === 'user' ? byImmutableId.get(obj.anchor) : undefined;
    if (byId !== undefined) {
      twin = byId;
      match = 'immutable-id';
      matchedOn = `onPremisesImmutableId ${obj.anchor}`;
    } else if (obj.sid !== undefined) {
      const bs = bySid.get(`${obj.kind} ${obj.sid.toUpperCase()}`);
      if (bs !== undefined && sameSid(bs.onPremisesSid!, obj.sid)) {
        twin = bs;
        match = 'sid';
        matchedOn = `onPremisesSecurityIdentifier ${obj.sid}`;
      }
    }
    if (twin === undefined || match === undefined) {
      // Soft match must never adopt a mastered user either.
      if (obj.kind === 'user' && (options.softMatch ?? 'off') !== 'off') {
        const key = [lower(obj.attrs['userPrincipalName']), lower(obj.attrs['mail'])].find(
          (k) => k !== undefined && masteredByKey.has(k),
        );
        if (key !== undefined) {
          const m = masteredByKey.get(key)!;
          hold(obj, 'mastered');
          report(
            obj,
            'mastered-by-sync-client',
            `the cloud user ${targetLabel(m)} (${m.id}) with the same userPrincipalName or mail (${key}) is mastered by a sync client (onPremisesSyncEnabled), but carries neither this anchor nor this objectSid: soft match never adopts it, and adsync writes nothing to it`,
            m,
          );
        }
      }
      continue;
    }
    if (claimed.has(twin)) {
      hold(obj, 'mastered');
      report(
        obj,
        'mastered-by-sync-client',
        `another source object already matched ${targetLabel(twin)} (${twin.id}) on ${matchedOn}; neither is written twice`,
        twin,
      );
      continue;
    }
    const mastered = twin.syncClientMastered === true;
    const how = `matched on ${matchedOn}`;
    if (waves?.release) {
      claimed.add(twin);
      hold(obj, mastered ? 'mastered' : 'released');
      if (mastered)
        report(
          obj,
          'mastered-by-sync-client',
          `${how}: mastered by the sync client again (matching.release selects it); adsync writes nothing to it`,
          twin,
        );
      else
        report(
          obj,
          'released-to-sync-client',
          `${how}: handed back (matching.release); the source of authority is on-premises again once the sync client's next cycle takes it over; adsync writes nothing to it`,
          twin,
        );
      continue;
    }
    if (!waves?.takeover) {
      if (!mastered) continue; // converted by someone else: an unowned cloud object like any other (the diff decides)
      claimed.add(twin);
      hold(obj, 'mastered');
      report(
        obj,
        'mastered-by-sync-client',
        `${how}: the cloud ${twin.kind} ${targetLabel(twin)} (${twin.id}) is mastered by a sync client (Entra Connect or Cloud Sync: onPremisesSyncEnabled), and Graph refuses writes to it; adsync writes nothing to it${obj.kind === 'group' ? ' nor its members' : ''} until matching.takeover selects it`,
        twin,
      );
      continue;
    }
    // Selected for takeover. Never a directory role holder (nor a user whose roles are unknown) unless named.
    const roles = twin.adminRoles ?? [];
    const unknownRoles = twin.kind === 'user' && target.adminRolesUnread !== undefined;
    if (roles.length > 0 || unknownRoles) {
      const named =
        allow.has(twin.id.toLowerCase()) ||
        allow.has(obj.anchor.toLowerCase()) ||
        (lower(twin.attrs['userPrincipalName']) !== undefined && allow.has(lower(twin.attrs['userPrincipalName'])!));
      if (!named) {
        claimed.add(twin);
        hold(obj, 'mastered');
        report(
          obj,
          roles.length > 0 ? 'takeover-admin' : 'takeover-roles-unread',
          roles.length > 0
            ? `${how}: ${targetLabel(twin)} (${twin.id}) holds a directory role (${roles.join(', ')}); adsync never takes over a privileged account unless matching.allowAdmins names it, and writes nothing to it`
            : `${how}: directory role holders could not be read (${target.adminRolesUnread}), so adsync can't tell ${targetLabel(twin)} holds no role; not taken over (grant RoleManagement.Read.Directory, or name it in matching.allowAdmins)`,
          twin,
        );
        continue;
      }
    }
    claimed.add(twin);
    takeovers.set(obj.anchor, { id: twin.id, match, matchedOn });
    // As it will be after apply: adsync's, its source of authority in the cloud.
    const { syncClientMastered: _m, ...rest } = twin;
    replaced.set(twin, { ...rest, anchor: obj.anchor });
  }

  // Coexistence: a user adsync creates while Entra Connect runs is a hard-match target for Connect.
  const sync = target.directorySync;
  if (sync?.enabled === true && sync.features?.['blockCloudObjectTakeoverThroughHardMatchEnabled'] !== true) {
    const exists = new Set<string>();
    for (const t of target.objects) {
      if (t.anchor !== undefined) exists.add(t.anchor);
      const id = t.attrs['onPremisesImmutableId'];
      if (typeof id === 'string') exists.add(id);
    }
    for (const t of target.deleted) if (t.anchor !== undefined) exists.add(t.anchor);
    for (const obj of desired.objects) {
      if (obj.kind !== 'user' || obj.readOnly || held.has(obj.anchor) || exists.has(obj.anchor)) continue;
      if (obj.sid !== undefined && bySid.has(`user ${obj.sid.toUpperCase()}`)) continue;
      hold(obj, 'coexistence');
      report(
        obj,
        'sync-client-may-hard-match',
        `directory sync is on in this tenant (${sync.lastSyncDateTime ? `last sync ${sync.lastSyncDateTime}` : 'organization.onPremisesSyncEnabled'}) and blockCloudObjectTakeoverThroughHardMatchEnabled is ${sync.features === undefined ? 'unreadable' : 'off'}: a user adsync creates carries onPremisesImmutableId ${obj.anchor}, which Entra Connect would hard-match its AD twin into; not created. Let Entra Connect create it and take it over (matching.takeover), or turn the block on (adsync doctor checks it)`,
      );
    }
  }

  // Memberships that involve a held (mastered) object are not written: say so per group.
  for (const g of desired.objects) {
    if (g.kind !== 'group' || !g.members || held.has(g.anchor)) continue;
    const skipped = g.members.filter((m) => heldMastered.has(m.anchor) && heldMastered.get(m.anchor) !== 'coexistence');
    if (skipped.length === 0) continue;
    const names = skipped.map((m) => m.label).sort();
    reports.push({
      code: 'mastered-member',
      kind: 'group',
      target: system,
      anchor: g.anchor,
      sourceDn: g.dn,
      source: g.source,
      label: g.label,
      reason: `${skipped.length} member(s) are mastered by the sync client and not taken over: their membership is not written until they are: ${names.slice(0, 5).join(', ')}${names.length > 5 ? `, and ${names.length - 5} more` : ''}`,
    });
  }

  const nextTarget: TargetSnapshot =
    replaced.size === 0 ? target : { ...target, objects: target.objects.map((t) => replaced.get(t) ?? t) };
  const nextDesired: DesiredState = held.size === desired.held.size ? desired : { ...desired, held, heldDns };
  return { desired: nextDesired, target: nextTarget, takeovers, releases, heldMastered, reports };
}

/**
 * After the diff: each taken-over object's update (if any) becomes its `takeover` change; one without attribute
 * changes still gets one (the switch and the anchor are changes). A reference (manager) to an object the sync
 * client still masters is left as it is (reported): the diff would otherwise clear it.
 */
export function finishTakeovers(
  diffed: { changes: Change[]; reports: ReportItem[] },
  prepared: PreparedTakeovers,
  desired: DesiredState,
  digestOf: (obj: DesiredObject) => string,
): { changes: Change[]; reports: ReportItem[] } {
  if (prepared.takeovers.size === 0 && prepared.releases.length === 0 && prepared.reports.length === 0) return diffed;
  const reports = [...diffed.reports, ...prepared.reports];
  const changes: Change[] = [];
  const done = new Set<string>();
  const keepReference = (
    c: { anchor: string; label: string; kind: Change['kind']; sourceDn?: string; source?: string },
    attributes: AttributeChange[],
  ): AttributeChange[] => {
    const obj = desired.byAnchor.get(c.anchor);
    return attributes.filter((a) => {
      const ref = obj?.attrs[a.name];
      if (a.name !== 'manager' || typeof ref !== 'string' || !prepared.heldMastered.has(ref)) return true;
      reports.push({
        code: 'mastered-member',
        kind: c.kind,
        target: prepared.target.system,
        anchor: c.anchor,
        ...(c.sourceDn !== undefined ? { sourceDn: c.sourceDn } : {}),
        ...(c.source !== undefined ? { source: c.source } : {}),
        label: c.label,
        reason: `its manager ${desired.byAnchor.get(ref)?.label ?? ref} is mastered by the sync client and not taken over: the manager is left as it is until it is`,
      });
      return false;
    });
  };
  for (const c of diffed.changes) {
    if (c.action === 'update') {
      const t = prepared.takeovers.get(c.anchor);
      const attributes = keepReference(c, c.attributes);
      if (t !== undefined) {
        done.add(c.anchor);
        changes.push({
          ...c,
          action: 'takeover',
          rule: 'matching.takeover',
          id: t.id,
          match: t.match,
          matchedOn: t.matchedOn,
          attributes,
        });
        continue;
      }
      if (attributes.length === 0) continue;
      changes.push({ ...c, attributes });
      continue;
    }
    changes.push(c);
  }
  for (const [anchor, t] of prepared.takeovers) {
    if (done.has(anchor)) continue;
    const obj = desired.byAnchor.get(anchor)!;
    changes.push({
      action: 'takeover',
      kind: obj.kind,
      anchor,
      target: prepared.target.system,
      sourceDn: obj.dn,
      source: obj.source,
      label: obj.label,
      rule: 'matching.takeover',
      id: t.id,
      match: t.match,
      matchedOn: t.matchedOn,
      attributes: [],
      digest: digestOf(obj),
    });
  }
  changes.push(...prepared.releases);
  return { changes, reports };
}

/** How waves joined objects, for `adsync explain` (replaces the diff's "held" for objects held here). */
export function recordWaveMatches(prepared: PreparedTakeovers, matches: Map<string, MatchInfo>): void {
  for (const [anchor, t] of prepared.takeovers)
    matches.set(anchor, {
      rule: 'takeover',
      id: t.id,
      detail: `${t.matchedOn}: mastered by the sync client, taken over (matching.takeover)`,
    });
  for (const r of prepared.reports) {
    if (r.anchor === undefined || !prepared.heldMastered.has(r.anchor)) continue;
    matches.set(r.anchor, {
      rule: 'blocked',
      ...(r.other?.id ? { id: r.other.id } : {}),
      detail: `${r.code}: ${r.reason}`,
    });
  }
  for (const c of prepared.releases)
    matches.set(c.anchor, { rule: 'anchor', id: c.id, detail: 'released to the sync client (matching.release)' });
}
