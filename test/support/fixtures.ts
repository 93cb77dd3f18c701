/** Plain-data builders for engine tests: directory entries, specs and target snapshots. */
import { createHash } from 'node:crypto';
import type { AttrValue, DirectoryEntry, SourceSnapshot } from '../../src/model/entry.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import type { ScopeSpec, SoftMatch, Spec } from '../../src/spec/types.js';

/** A stable 16-byte objectGUID derived from a name. */
export function guid(name: string): Uint8Array {
  return new Uint8Array(createHash('md5').update(name).digest());
}

export function anchorOf(name: string): string {
  return Buffer.from(guid(name)).toString('base64');
}

type Attrs = Record<string, string | string[] | Uint8Array>;

export function entry(dn: string, attrs: Attrs): DirectoryEntry {
  const out: Record<string, AttrValue[]> = {};
  for (const [k, v] of Object.entries(attrs)) out[k.toLowerCase()] = Array.isArray(v) ? v : [v];
  return { dn, attrs: out };
}

const BASE = 'DC=contoso,DC=example';

export function user(cn: string, extra: Attrs = {}, ou = 'OU=Staff'): DirectoryEntry {
  const sam = cn.replace(/[^A-Za-z0-9_]+/g, '.');
  return entry(dnOf(cn, ou), {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    cn,
    sAMAccountName: sam,
    userPrincipalName: `${sam.toLowerCase()}@contoso.example`,
    displayName: cn,
    userAccountControl: '512',
    objectGUID: guid(cn),
    ...extra,
  });
}

export function group(cn: string, members: string[], extra: Attrs = {}, ou = 'OU=Groups'): DirectoryEntry {
  return entry(`CN=${cn},${ou},${BASE}`, {
    objectClass: ['top', 'group'],
    cn,
    sAMAccountName: cn.replace(/\s/g, ''),
    groupType: '-2147483646',
    objectGUID: guid(cn),
    ...(members.length > 0 ? { member: members } : {}),
    ...extra,
  });
}

export function dnOf(cn: string, ou = 'OU=Staff'): string {
  return `CN=${cn.replace(/([,+"\\<>;=])/g, '\\$1')},${ou},${BASE}`;
}

export function snapshot(entries: DirectoryEntry[], source = 'corp'): SourceSnapshot {
  return { source, namingContexts: [{ dn: BASE, dnsName: 'contoso.example' }], entries };
}

export function scope(partial: Partial<ScopeSpec> = {}): ScopeSpec {
  return { domains: [], ous: { include: [], exclude: [] }, groups: [], ...partial };
}

export function spec(
  partial: {
    scope?: Partial<ScopeSpec>;
    flows?: Partial<Record<'user' | 'group' | 'contact', Spec['objects']['user']['flows']>>;
    applications?: string[];
    softMatch?: SoftMatch;
    memberLimit?: number;
  } = {},
): Spec {
  return {
    version: 1,
    file: '/tmp/adsync.yaml',
    dir: '/tmp',
    digest: 'a'.repeat(64),
    sources: [
      { name: 'corp', ldif: { path: 'corp.ldif' }, anchor: 'ms-ds-consistencyguid', scope: scope(partial.scope) },
    ],
    target: { emulator: { state: 'state.json', tenant: 'contoso.onmicrosoft.com', domains: ['contoso.example'] } },
    applications: partial.applications ?? [],
    matching: { softMatch: partial.softMatch ?? 'off' },
    objects: {
      user: { enabled: true, flows: partial.flows?.user ?? {} },
      group: {
        enabled: true,
        flows: partial.flows?.group ?? {},
        ...(partial.memberLimit !== undefined ? { memberLimit: partial.memberLimit } : {}),
      },
      contact: { enabled: true, flows: partial.flows?.contact ?? {} },
    },
    safety: { maxDeletes: 500, deleteMode: 'delete', deleteGraceDays: 7 },
    writeback: [],
  };
}

export function emptyTarget(objects: TargetObject[] = []): TargetSnapshot {
  return {
    system: 'entra',
    tenant: {
      tenantId: '00000000-0000-0000-0000-000000000001',
      verifiedDomains: ['contoso.example', 'contoso.onmicrosoft.com'],
      initialDomain: 'contoso.onmicrosoft.com',
    },
    objects,
    deleted: [],
  };
}
