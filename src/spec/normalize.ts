/**
 * Defaults, applied to a spec that passed the schema: the normalized `Spec` the rest of adsync consumes.
 * The defaults here are the ones the schema documents (`default:`); a test keeps the two in step.
 */
import type { ObjectKind } from '../model/target.js';
import type {
  CredentialSpec,
  EntraTargetSpec,
  EmulatorTargetSpec,
  LdapSourceSpec,
  MatchingSpec,
  ObjectRuleSpec,
  SafetySpec,
  SourceSpec,
  Spec,
  StateSpec,
  TargetSpec,
  ValueRef,
  WritebackRuleSpec,
} from './types.js';
import { normalizeLicenses } from './licenses.js';

export const DEFAULT_PAGE_SIZE = 500;
export const DEFAULT_ENDPOINT = 'https://graph.microsoft.com';
export const DEFAULT_EMULATOR_TENANT = 'contoso.onmicrosoft.com';
export const DEFAULT_MAX_DELETES = 500;
export const DEFAULT_DELETE_GRACE_DAYS = 7;
/** A plan that deletes most of what adsync manages (an empty export, a wrong base) needs --force. */
export const DEFAULT_MAX_DELETE_PERCENT = 50;
export const DEFAULT_MAX_MEMBER_REMOVALS = 500;
export const DEFAULT_MAX_MEMBER_REMOVAL_PERCENT = 50;
export const DEFAULT_MAX_LICENSE_REMOVALS = 100;

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {});
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Copy only the keys that are present, so optional properties stay absent (exactOptionalPropertyTypes). */
function present<T extends object>(raw: Raw, keys: readonly (keyof T & string)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (raw[k] !== undefined) (out as Raw)[k] = raw[k];
  return out;
}

function source(raw: Raw): SourceSpec {
  const scope = obj(raw['scope']);
  const ous = obj(scope['ous']);
  const out: SourceSpec = {
    name: String(raw['name']),
    anchor: raw['anchor'] === 'objectguid' ? 'objectguid' : 'ms-ds-consistencyguid',
    scope: {
      domains: strings(scope['domains']),
      ous: { include: strings(ous['include']), exclude: strings(ous['exclude']) },
      groups: strings(scope['groups']),
      ...(typeof scope['filter'] === 'string' ? { filter: scope['filter'] } : {}),
    },
  };
  if (raw['ldap'] !== undefined) {
    const l = obj(raw['ldap']);
    out.ldap = {
      ...(present<LdapSourceSpec>(l, [
        'url',
        'bindDn',
        'password',
        'ca',
        'startTls',
        'tlsInsecureSkipVerify',
        'baseDn',
      ]) as LdapSourceSpec),
      pageSize: typeof l['pageSize'] === 'number' ? l['pageSize'] : DEFAULT_PAGE_SIZE,
    };
  }
  if (raw['ldif'] !== undefined) out.ldif = { path: String(obj(raw['ldif'])['path']) };
  return out;
}

function target(raw: Raw): TargetSpec {
  const out: TargetSpec = {};
  if (raw['entra'] !== undefined) {
    const e = obj(raw['entra']);
    out.entra = {
      ...(present<EntraTargetSpec>(e, ['tenantId', 'authorityHost', 'applicationId', 'ca']) as EntraTargetSpec),
      endpoint: (e['endpoint'] as EntraTargetSpec['endpoint'] | undefined) ?? DEFAULT_ENDPOINT,
      credential: { ...obj(e['credential']) } as unknown as CredentialSpec,
    };
  }
  if (raw['emulator'] !== undefined) {
    const m = obj(raw['emulator']);
    const emulator: EmulatorTargetSpec = {
      state: String(m['state']),
      tenant: typeof m['tenant'] === 'string' ? m['tenant'] : DEFAULT_EMULATOR_TENANT,
      domains: strings(m['domains']),
    };
    if (m['fixture'] !== undefined)
      emulator.fixtures = typeof m['fixture'] === 'string' ? [m['fixture']] : strings(m['fixture']);
    out.emulator = emulator;
  }
  return out;
}

function objectRule(raw: unknown): ObjectRuleSpec {
  const r = obj(raw);
  return {
    enabled: r['enabled'] !== false,
    flows: { ...(obj(r['flows']) as ObjectRuleSpec['flows']) },
    ...(typeof r['memberLimit'] === 'number' ? { memberLimit: r['memberLimit'] } : {}),
  };
}

/** Takeovers are reviewed in small waves: a plan taking over more stops apply unless --force. */
export const DEFAULT_MAX_TAKEOVERS = 10;

function matching(raw: Raw): MatchingSpec {
  const soft = raw['softMatch'];
  const allow = raw['allowAdmins'];
  return {
    softMatch: soft === 'upn' || soft === 'mail' || soft === 'both' ? soft : 'off',
    ...(Array.isArray(allow) ? { allowAdmins: allow.filter((a): a is string => typeof a === 'string') } : {}),
    ...(typeof raw['takeover'] === 'string' ? { takeover: raw['takeover'] } : {}),
    ...(typeof raw['release'] === 'string' ? { release: raw['release'] } : {}),
  };
}

function safety(raw: Raw): SafetySpec {
  return {
    maxDeletes: typeof raw['maxDeletes'] === 'number' ? raw['maxDeletes'] : DEFAULT_MAX_DELETES,
    maxDeletePercent:
      typeof raw['maxDeletePercent'] === 'number' ? raw['maxDeletePercent'] : DEFAULT_MAX_DELETE_PERCENT,
    maxMemberRemovals:
      typeof raw['maxMemberRemovals'] === 'number' ? raw['maxMemberRemovals'] : DEFAULT_MAX_MEMBER_REMOVALS,
    maxMemberRemovalPercent:
      typeof raw['maxMemberRemovalPercent'] === 'number'
        ? raw['maxMemberRemovalPercent']
        : DEFAULT_MAX_MEMBER_REMOVAL_PERCENT,
    // (absent: DEFAULT_MAX_LICENSE_REMOVALS, applied by checkSafety, so specs without licences read as before)
    ...(typeof raw['maxLicenseRemovals'] === 'number' ? { maxLicenseRemovals: raw['maxLicenseRemovals'] } : {}),
    allowEmptySource: raw['allowEmptySource'] === true,
    maxTakeovers: typeof raw['maxTakeovers'] === 'number' ? raw['maxTakeovers'] : DEFAULT_MAX_TAKEOVERS,
    ...(typeof raw['maxUpdates'] === 'number' ? { maxUpdates: raw['maxUpdates'] } : {}),
    deleteMode: raw['deleteMode'] === 'disable-first' ? 'disable-first' : 'delete',
    deleteGraceDays: typeof raw['deleteGraceDays'] === 'number' ? raw['deleteGraceDays'] : DEFAULT_DELETE_GRACE_DAYS,
  };
}

/** Writeback rules, each tagged with its kind and its position in the list (for provenance). */
function writeback(raw: unknown): WritebackRuleSpec[] {
  const out: WritebackRuleSpec[] = [];
  (Array.isArray(raw) ? raw : []).forEach((item, index) => {
    const r = obj(item);
    if (r['anchor'] !== undefined) {
      const a = obj(r['anchor']);
      const kinds = strings(a['kinds']).filter((k): k is 'user' | 'group' => k === 'user' || k === 'group');
      out.push({ rule: 'anchor', index, source: String(a['source']), kinds: kinds.length > 0 ? kinds : ['user'] });
    } else if (r['group'] !== undefined) {
      const g = obj(r['group']);
      const type = g['groupType'];
      out.push({
        rule: 'group',
        index,
        source: String(g['source']),
        ou: g['ou'] as ValueRef,
        filter: String(g['filter']),
        groupType:
          type === 'global-security' || type === 'domain-local-security' || type === 'universal-distribution'
            ? type
            : 'universal-security',
        flows: { ...(obj(g['flows']) as Record<string, string | null>) },
        ...(Array.isArray(g['allowProtected']) ? { allowProtected: strings(g['allowProtected']) } : {}),
      });
    } else if (r['attributes'] !== undefined) {
      const a = obj(r['attributes']);
      out.push({
        rule: 'attributes',
        index,
        source: String(a['source']),
        kind: a['kind'] === 'group' ? 'group' : 'user',
        flows: { ...(obj(a['flows']) as Record<string, string>) },
        ...(Array.isArray(a['allowProtected']) ? { allowProtected: strings(a['allowProtected']) } : {}),
      });
    }
  });
  return out;
}

function state(raw: Raw): StateSpec {
  if (raw['azureBlob'] !== undefined) {
    const a = obj(raw['azureBlob']);
    return {
      azureBlob: {
        accountUrl: String(a['accountUrl']),
        container: String(a['container']),
        ...(typeof a['prefix'] === 'string' ? { prefix: a['prefix'] } : {}),
        ...(a['credential'] !== undefined
          ? { credential: { ...obj(a['credential']) } as unknown as CredentialSpec }
          : {}),
        ...(a['connectionString'] !== undefined
          ? { connectionString: { env: String(obj(a['connectionString'])['env']) } }
          : {}),
      },
    };
  }
  const l = obj(raw['local']);
  return { local: typeof l['dir'] === 'string' ? { dir: l['dir'] } : {} };
}

/** The normalized spec, from data that passed the schema and the semantic rules. */
export function normalizeSpec(data: unknown, meta: { file: string; dir: string; digest: string }): Spec {
  const raw = obj(data);
  const objects = obj(raw['objects']);
  const kinds: ObjectKind[] = ['user', 'group', 'contact'];
  return {
    version: 1,
    file: meta.file,
    dir: meta.dir,
    digest: meta.digest,
    sources: (Array.isArray(raw['sources']) ? raw['sources'] : []).map((s) => source(obj(s))),
    target: target(obj(raw['target'])),
    applications: strings(raw['applications']),
    matching: matching(obj(raw['matching'])),
    objects: Object.fromEntries(kinds.map((k) => [k, objectRule(objects[k])])) as Record<ObjectKind, ObjectRuleSpec>,
    safety: safety(obj(raw['safety'])),
    writeback: writeback(raw['writeback']),
    ...(raw['state'] !== undefined ? { state: state(obj(raw['state'])) } : {}),
    ...(Array.isArray(raw['licenses']) && raw['licenses'].length > 0
      ? { licenses: normalizeLicenses(raw['licenses']) }
      : {}),
  };
}
