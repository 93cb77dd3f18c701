/**
 * `adsync doctor` for LDAP sources: checks, against the live directory, what the sync account needs —
 * reach the DC, verify its certificate, bind, see the scoped domains and OUs, read the attributes the flows
 * use, and (for anchor writeback) find ms-DS-ConsistencyGuid in the schema and be allowed to write it.
 * Each finding is ok / warning / error with a fix. Read-only: doctor never writes to the directory.
 */
import type { Client, Entry } from 'ldapts';
import { EqualityFilter, AndFilter, NotFilter, NoSuchObjectError } from 'ldapts';
import { AdsyncError } from '../errors.js';
import { mapLdapError, openLdap, resolveLdapSettings } from '../connectors/ad/connection.js';
import type { ConnectOptions, LdapConnection, LdapSettings } from '../connectors/ad/connection.js';
import { readDomains, readRootDse } from '../connectors/ad/index.js';
import { readDirSync } from '../connectors/ad/changes.js';
import { dnFromDnsName } from '../model/dn.js';
import type { SourceSpec } from '../spec/types.js';

export type FindingStatus = 'ok' | 'warning' | 'error';

export interface Finding {
  source: string;
  /** Stable id of the check, e.g. `tls`, `bind`, `read:OU=Sales,DC=corp,DC=example`, `schema:ms-ds-consistencyguid`. */
  check: string;
  status: FindingStatus;
  message: string;
  /** What to do about it (warnings and errors). */
  fix?: string;
}

export interface DoctorReport {
  findings: Finding[];
  errors: number;
  warnings: number;
}

/** The attributes the default flows read (until the engine hands doctor its own list). */
export const DEFAULT_FLOW_ATTRIBUTES = [
  'userPrincipalName',
  'sAMAccountName',
  'displayName',
  'givenName',
  'sn',
  'mail',
  'member',
  'objectGUID',
  'userAccountControl',
  'mS-DS-ConsistencyGuid',
];

/** Attributes every user carries in AD: when none of the sampled users shows one, the account can't read it. */
const ALWAYS_ON_USERS = new Set(['objectguid', 'samaccountname', 'useraccountcontrol', 'objectclass']);
const ALWAYS_ON_GROUPS = new Set(['objectguid', 'samaccountname', 'objectclass', 'grouptype']);

export interface DoctorOptions extends ConnectOptions {
  /** Attributes the flows need (default DEFAULT_FLOW_ATTRIBUTES). */
  attributes?: string[];
  /** Objects sampled per kind (users, groups, contacts) per scoped OU (default 50). */
  sampleSize?: number;
}

function finding(source: string, check: string, status: FindingStatus, message: string, fix?: string): Finding {
  return fix === undefined || status === 'ok'
    ? { source, check, status, message }
    : { source, check, status, message, fix };
}

function fromError(source: string, check: string, err: unknown, s?: LdapSettings): Finding {
  const e =
    err instanceof AdsyncError
      ? err
      : s
        ? mapLdapError(err, s)
        : new AdsyncError('error', String((err as Error)?.message ?? err));
  return finding(source, check, 'error', e.message, e.hint ?? 'run again with --debug for details');
}

function values(e: Entry | undefined, attr: string): (string | Buffer)[] {
  if (!e) return [];
  const key = Object.keys(e).find(
    (k) => k.toLowerCase() === attr.toLowerCase() || k.toLowerCase().startsWith(`${attr.toLowerCase()};range=`),
  );
  if (!key) return [];
  const v = e[key]!;
  return Array.isArray(v) ? v : [v];
}

/** Checks one LDAP source. Never throws: every failure is a finding. */
export async function checkLdapSource(
  spec: SourceSpec,
  specDir: string,
  options: DoctorOptions = {},
): Promise<Finding[]> {
  const src = spec.name;
  const out: Finding[] = [];
  const where = `sources[${src}].ldap`;
  let settings: LdapSettings;
  try {
    settings = await resolveLdapSettings(spec, specDir, options.env ?? process.env);
    out.push(
      finding(
        src,
        'settings',
        'ok',
        `${where}: url ${settings.url}, bind as ${settings.bindDn}, page size ${settings.pageSize}`,
      ),
    );
  } catch (err) {
    out.push(fromError(src, 'settings', err));
    return out;
  }

  // Connect + TLS (no secret sent yet).
  const warnings: string[] = [];
  let conn: LdapConnection;
  try {
    conn = await openLdap(settings, { ...options, warn: (l) => warnings.push(l) });
    const mode = settings.startTls ? 'StartTLS' : 'LDAPS';
    if (settings.insecureSkipVerify) {
      out.push(
        finding(
          src,
          'tls',
          'warning',
          `connected to ${settings.host}:${settings.port} over ${mode}, but certificate verification is OFF (tlsInsecureSkipVerify)`,
          `remove ${where}.tlsInsecureSkipVerify and set ${where}.ca to the PEM of the CA that issued the DC's certificate`,
        ),
      );
    } else {
      out.push(
        finding(
          src,
          'tls',
          'ok',
          `connected to ${settings.host}:${settings.port} over ${mode}; certificate verified${settings.caPath ? ` against ${settings.caPath}` : ' against the system trust store'}`,
        ),
      );
    }
  } catch (err) {
    out.push(fromError(src, 'tls', err, settings));
    return out;
  }

  try {
    try {
      await conn.bind();
      out.push(finding(src, 'bind', 'ok', `bound as ${settings.bindDn}`));
    } catch (err) {
      out.push(fromError(src, 'bind', err, settings));
      return out;
    }
    const client = conn.client;

    // Naming contexts and the domains the scope names.
    let bases: string[] = [];
    let schemaNc: string | undefined;
    let namingContexts: string[] = [];
    try {
      const root = await readRootDse(client);
      schemaNc = root.schemaNamingContext;
      namingContexts = root.namingContexts;
      const domains = await readDomains(client, root);
      const hosted = new Set(root.namingContexts.map((n) => n.toLowerCase()));
      for (const d of spec.scope.domains) {
        const dns = d.toLowerCase().replace(/\.$/, '');
        const nc = domains.find((x) => x.dnsName === dns)?.dn ?? dnFromDnsName(dns);
        if (hosted.has(nc.toLowerCase()))
          out.push(finding(src, `domain:${dns}`, 'ok', `domain ${dns} is ${nc}, hosted by ${settings.host}`));
        else
          out.push(
            finding(
              src,
              `domain:${dns}`,
              'error',
              `domain ${dns} (${nc}) is not hosted by ${settings.host}`,
              `point a source at a domain controller of ${dns}, or remove it from sources[${src}].scope.domains`,
            ),
          );
      }
      if (spec.scope.ous.include.length > 0) bases = [...spec.scope.ous.include];
      else if (spec.scope.domains.length > 0)
        bases = spec.scope.domains.map(
          (d) => domains.find((x) => x.dnsName === d.toLowerCase())?.dn ?? dnFromDnsName(d),
        );
      else if (settings.baseDn) bases = [settings.baseDn];
      else if (root.defaultNamingContext) bases = [root.defaultNamingContext];
    } catch (err) {
      out.push(fromError(src, 'rootdse', err, settings));
      return out;
    }

    // Incremental reads: DirSync where the account may replicate changes, else uSNChanged polling (slower: it
    // lists every object under the bases to find deletions). A probe that matches nothing asks for the right.
    const ncOf = (dn: string): string | undefined =>
      namingContexts
        .filter((nc) => dn.toLowerCase() === nc.toLowerCase() || dn.toLowerCase().endsWith(`,${nc.toLowerCase()}`))
        .sort((a, b) => b.length - a.length)[0];
    for (const nc of [...new Set(bases.map(ncOf).filter((nc): nc is string => nc !== undefined))].sort()) {
      const probe = await readDirSync(client, nc, Buffer.alloc(0), true);
      if (probe.ok)
        out.push(
          finding(
            src,
            `dirsync:${nc}`,
            'ok',
            `the account may read changes through DirSync in ${nc}: an incremental run reads only what changed`,
          ),
        );
      else
        out.push(
          finding(
            src,
            `dirsync:${nc}`,
            'warning',
            probe.kind === 'denied'
              ? `the account may not use DirSync in ${nc} (${probe.message}): incremental runs poll uSNChanged instead, and list every object under the bases to find deletions`
              : `the DC refused DirSync in ${nc} (${probe.message}): incremental runs poll uSNChanged instead`,
            probe.kind === 'denied'
              ? `grant the sync account "Replicating Directory Changes" on ${nc} (docs/operations.md, incremental reads)`
              : 'check the domain controller; uSNChanged polling works without DirSync',
          ),
        );
    }

    const wanted = options.attributes ?? DEFAULT_FLOW_ATTRIBUTES;
    let sampleUser: string | undefined;
    for (const base of bases) {
      const f = await checkBase(client, settings, src, base, wanted, options.sampleSize ?? 50);
      out.push(...f.findings);
      sampleUser ??= f.sampleUser;
    }

    // ms-DS-ConsistencyGuid: in the schema? writable by the account (anchor writeback)?
    let inSchema = false;
    if (schemaNc) {
      try {
        const { searchEntries } = await client.search(schemaNc, {
          scope: 'one',
          filter: new AndFilter({
            filters: [
              new EqualityFilter({ attribute: 'objectClass', value: 'attributeSchema' }),
              new EqualityFilter({ attribute: 'lDAPDisplayName', value: 'mS-DS-ConsistencyGuid' }),
            ],
          }),
          attributes: ['attributeID'],
        });
        inSchema = searchEntries.length > 0;
        out.push(
          inSchema
            ? finding(
                src,
                'schema:ms-ds-consistencyguid',
                'ok',
                'ms-DS-ConsistencyGuid exists in the schema (used as the source anchor when set)',
              )
            : finding(
                src,
                'schema:ms-ds-consistencyguid',
                'warning',
                'ms-DS-ConsistencyGuid is not in the schema: anchors fall back to objectGUID and anchor writeback is impossible',
                'extend the schema to Windows Server 2012 R2 level or later (adprep /forestprep)',
              ),
        );
      } catch (err) {
        out.push(fromError(src, 'schema:ms-ds-consistencyguid', err, settings));
      }
    }
    if (inSchema) {
      if (!sampleUser) {
        out.push(
          finding(
            src,
            'write:ms-ds-consistencyguid',
            'warning',
            'no user in scope to check write access to ms-DS-ConsistencyGuid on',
            'run doctor again once the scope holds users',
          ),
        );
      } else {
        try {
          const { searchEntries } = await client.search(sampleUser, {
            scope: 'base',
            filter: '(objectClass=*)',
            attributes: ['allowedAttributesEffective'],
          });
          const allowed = values(searchEntries[0], 'allowedAttributesEffective').map((v) => v.toString().toLowerCase());
          out.push(
            allowed.includes('ms-ds-consistencyguid')
              ? finding(
                  src,
                  'write:ms-ds-consistencyguid',
                  'ok',
                  `${settings.bindDn} may write ms-DS-ConsistencyGuid (checked on ${sampleUser})`,
                )
              : finding(
                  src,
                  'write:ms-ds-consistencyguid',
                  'warning',
                  `${settings.bindDn} may not write ms-DS-ConsistencyGuid (checked on ${sampleUser}); needed only for anchor writeback`,
                  `grant it on the scoped OUs, e.g. dsacls "<OU DN>" /I:S /G "<DOMAIN>\\<sync account>:WP;mS-DS-ConsistencyGuid;user"`,
                ),
          );
        } catch (err) {
          out.push(fromError(src, 'write:ms-ds-consistencyguid', err, settings));
        }
      }
    }
  } finally {
    await conn.close();
  }
  return out;
}

async function checkBase(
  client: Client,
  s: LdapSettings,
  src: string,
  base: string,
  wanted: string[],
  sampleSize: number,
): Promise<{ findings: Finding[]; sampleUser?: string }> {
  const check = `read:${base}`;
  const grant = `grant ${s.bindDn} "Read all properties" and "List contents" on ${base} and its descendants (the Entra Connect account gets them from "Enterprise Domain Controllers"/"Authenticated Users" by default: check for a Deny ACE)`;
  try {
    const { searchEntries } = await client.search(base, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['objectClass'],
    });
    if (values(searchEntries[0], 'objectClass').length === 0) {
      return {
        findings: [
          finding(
            src,
            check,
            'error',
            `${s.bindDn} cannot read ${base}: the object is visible but its attributes are not (missing Read permission)`,
            grant,
          ),
        ],
      };
    }
  } catch (err) {
    if (err instanceof NoSuchObjectError) {
      return {
        findings: [
          finding(
            src,
            check,
            'error',
            `${base} does not exist, or ${s.bindDn} may not see it (LDAP 32 noSuchObject)`,
            `check the DN in the spec; if it exists, ${grant}`,
          ),
        ],
      };
    }
    return { findings: [fromError(src, check, err, s)] };
  }
  let sample: Entry[] = [];
  try {
    // One page per kind (users, groups, contacts) of a paged search: a sample that doesn't trip size limits.
    const kinds = [
      new AndFilter({
        filters: [
          new EqualityFilter({ attribute: 'objectClass', value: 'user' }),
          new NotFilter({ filter: new EqualityFilter({ attribute: 'objectClass', value: 'computer' }) }),
        ],
      }),
      new EqualityFilter({ attribute: 'objectClass', value: 'group' }),
      new EqualityFilter({ attribute: 'objectClass', value: 'contact' }),
    ];
    for (const filter of kinds) {
      const pages = client.searchPaginated(base, {
        scope: 'sub',
        filter,
        attributes: [
          ...new Set([...wanted, 'objectClass', 'sAMAccountName', 'groupType', 'userAccountControl', 'objectGUID']),
        ],
        explicitBufferAttributes: ['objectGUID', 'mS-DS-ConsistencyGuid', 'objectSid'],
        paged: { pageSize: sampleSize },
      });
      for await (const page of pages) {
        sample = sample.concat(page.searchEntries);
        break;
      }
    }
  } catch (err) {
    return { findings: [fromError(src, check, err, s)] };
  }
  if (sample.length === 0) {
    return {
      findings: [
        finding(
          src,
          check,
          'warning',
          `no user, group or contact under ${base} is visible to ${s.bindDn}: the OU is empty, or the account lacks List contents/Read on its children`,
          grant,
        ),
      ],
    };
  }
  const cls = (e: Entry) => values(e, 'objectClass').map((v) => v.toString().toLowerCase());
  const users = sample.filter((e) => cls(e).includes('user'));
  const groups = sample.filter((e) => cls(e).includes('group'));
  const findings: Finding[] = [];
  const unreadable: string[] = [];
  const empty: string[] = [];
  for (const attr of wanted) {
    const a = attr.toLowerCase();
    const seen = sample.some((e) => values(e, a).length > 0);
    const mustUsers = ALWAYS_ON_USERS.has(a) && users.length > 0 && users.every((e) => values(e, a).length === 0);
    const mustGroups = ALWAYS_ON_GROUPS.has(a) && groups.length > 0 && groups.every((e) => values(e, a).length === 0);
    if (mustUsers || mustGroups) unreadable.push(attr);
    else if (!seen && a !== 'ms-ds-consistencyguid') empty.push(attr);
  }
  findings.push(
    finding(
      src,
      check,
      'ok',
      `${s.bindDn} can read ${base} (sampled ${users.length} user(s), ${groups.length} group(s), ${sample.length - users.length - groups.length} contact(s))`,
    ),
  );
  if (unreadable.length > 0) {
    findings.push(
      finding(
        src,
        `attributes:${base}`,
        'error',
        `${s.bindDn} cannot read ${unreadable.join(', ')} under ${base} (every AD user/group has them, none came back)`,
        grant,
      ),
    );
  }
  if (empty.length > 0) {
    findings.push(
      finding(
        src,
        `attributes:${base}`,
        'warning',
        `none of the ${sample.length} sampled objects under ${base} shows ${empty.join(', ')}: empty everywhere, or not readable by ${s.bindDn}`,
        `if those attributes are set in AD, ${grant}`,
      ),
    );
  } else if (unreadable.length === 0) {
    findings.push(finding(src, `attributes:${base}`, 'ok', `the flows' attributes are readable under ${base}`));
  }
  const first = users[0]?.dn;
  return first === undefined ? { findings } : { findings, sampleUser: first };
}

/** Runs doctor over every LDAP source of a spec (LDIF sources need no checks). */
export async function runDoctor(
  spec: { sources: SourceSpec[]; dir: string },
  options: DoctorOptions = {},
): Promise<DoctorReport> {
  const findings: Finding[] = [];
  for (const source of spec.sources) {
    if (!source.ldap) {
      findings.push(finding(source.name, 'source', 'ok', 'not an LDAP source: nothing to check against a directory'));
      continue;
    }
    findings.push(...(await checkLdapSource(source, spec.dir, options)));
  }
  return {
    findings,
    errors: findings.filter((f) => f.status === 'error').length,
    warnings: findings.filter((f) => f.status === 'warning').length,
  };
}
