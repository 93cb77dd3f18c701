/** Helpers for the Entra connector tests: hand-built plans and a compact view of a snapshot. */
import { randomBytes } from 'node:crypto';
import type { AddMembersChange, Change, CreateChange, MemberRef } from '../../../src/model/change.js';
import type { Plan } from '../../../src/model/plan.js';
import { summarize } from '../../../src/model/plan.js';
import type { TargetObject, TargetSnapshot } from '../../../src/model/target.js';

export function anchor(): string {
  return randomBytes(16).toString('base64');
}

export function makePlan(changes: Change[], tenantId?: string): Plan {
  return {
    formatVersion: 1,
    tool: { name: 'adsync', version: 'test' },
    createdAt: new Date(0).toISOString(),
    spec: { path: 'test.yaml', digest: 'test' },
    target: tenantId === undefined ? { system: 'entra' } : { system: 'entra', tenantId },
    changes,
    reports: [],
    summary: summarize(changes, []),
    managed: 0,
  };
}

const base = { target: 'entra' as const, rule: 'test' };

export function createUser(a: string, upn: string, extra: Record<string, unknown> = {}): CreateChange {
  const nick = upn.split('@')[0]!;
  const attrs: Record<string, unknown> = {
    accountEnabled: true,
    displayName: nick,
    mailNickname: nick,
    userPrincipalName: upn,
    ...extra,
  };
  return {
    ...base,
    action: 'create',
    kind: 'user',
    anchor: a,
    label: upn,
    attributes: Object.entries(attrs).map(([name, after]) => ({ name, after, flow: 'test' })),
  };
}

export function createGroup(a: string, name: string): CreateChange {
  const attrs = {
    displayName: name,
    mailEnabled: false,
    mailNickname: name.replace(/[^A-Za-z0-9]/g, ''),
    securityEnabled: true,
    groupTypes: [],
  };
  return {
    ...base,
    action: 'create',
    kind: 'group',
    anchor: a,
    label: name,
    attributes: Object.entries(attrs).map(([n, after]) => ({ name: n, after, flow: 'test' })),
  };
}

export function member(a: string, kind: 'user' | 'group', label: string, id?: string): MemberRef {
  return id === undefined ? { anchor: a, kind, label } : { anchor: a, kind, label, id };
}

export function addMembers(groupAnchor: string, label: string, members: MemberRef[], id?: string): AddMembersChange {
  const c: AddMembersChange = { ...base, action: 'add-members', kind: 'group', anchor: groupAnchor, label, members };
  if (id !== undefined) c.id = id;
  return c;
}

/** anchor → object, for the objects adsync owns. */
export function owned(snapshot: TargetSnapshot): Map<string, TargetObject> {
  const m = new Map<string, TargetObject>();
  for (const o of snapshot.objects) {
    if (o.anchor === undefined) continue;
    const seen = m.get(o.anchor);
    // Two objects with one anchor is a duplicate create; the same object listed twice is a listing bug. Either fails.
    if (seen !== undefined)
      throw new Error(
        seen.id === o.id
          ? `object ${o.id} (anchor ${o.anchor}) is listed twice`
          : `two objects carry anchor ${o.anchor}`,
      );
    m.set(o.anchor, o);
  }
  return m;
}

/** A group's members as anchors (owned members) or ids (others), sorted. */
export function memberAnchors(snapshot: TargetSnapshot, group: TargetObject): string[] {
  const byId = new Map(snapshot.objects.map((o) => [o.id, o]));
  return (group.members ?? []).map((id) => byId.get(id)?.anchor ?? id).sort();
}
