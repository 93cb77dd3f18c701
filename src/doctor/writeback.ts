/**
 * `adsync doctor` for writeback: the write rights each writeback rule needs, checked where it needs them,
 * with AD's own answer (the constructed attributes allowedChildClassesEffective and allowedAttributesEffective,
 * which evaluate the account's effective rights on that object; Samba implements them too), and the missing
 * delegation printed as a dsacls line:
 *
 *   anchor      Write ms-DS-ConsistencyGuid on the users (groups) of every scoped OU
 *   group       Create/delete group objects in the writeback OU, and write the group properties adsync sets
 *   attributes  Write each written-back attribute on the objects of every scoped OU
 *
 * Read-only, like the rest of doctor: rights are asked, never tried.
 */
import type { Client, Entry } from 'ldapts';
import { AdsyncError } from '../errors.js';
import { mapLdapError, openLdap, resolveLdapSettings } from '../connectors/ad/connection.js';
import type { LdapConnection } from '../connectors/ad/connection.js';
import { readRootDse } from '../connectors/ad/index.js';
import { dnFromDnsName, dnsNameFromDn } from '../model/dn.js';
import { resolveValue } from '../spec/resolve.js';
import type { SourceSpec, Spec, WritebackRuleSpec } from '../spec/types.js';
import type { DoctorOptions, Finding } from './ldap.js';

/** The attributes group writeback writes on the groups it keeps (besides creating them). */
const GROUP_WRITE_ATTRIBUTES = [
  'member',
  'description',
  'displayName',
  'sAMAccountName',
  'groupType',
  'adminDescription',
];

function values(e: Entry | undefined, attr: string): string[] {
  if (!e) return [];
  const key = Object.keys(e).find((k) => k.toLowerCase() === attr.toLowerCase());
  if (!key) return [];
  const v = e[key]!;
  return (Array.isArray(v) ? v : [v]).map((x) => x.toString());
}

async function effective(
  client: Client,
  dn: string,
  attr: 'allowedAttributesEffective' | 'allowedChildClassesEffective',
): Promise<Set<string>> {
  const { searchEntries } = await client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [attr] });
  return new Set(values(searchEntries[0], attr).map((v) => v.toLowerCase()));
}

/** The first object of a class under `base` (a sample to ask AD about), or undefined. */
async function sample(client: Client, base: string, filter: string): Promise<string | undefined> {
  const pages = client.searchPaginated(base, { scope: 'sub', filter, attributes: ['1.1'], paged: { pageSize: 1 } });
  for await (const page of pages) return page.searchEntries[0]?.dn;
  return undefined;
}

/** How dsacls names the account: sAMAccountName@dns-domain. */
async function accountName(client: Client, bindDn: string): Promise<string> {
  try {
    const { searchEntries } = await client.search(bindDn, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['sAMAccountName'],
    });
    const sam = values(searchEntries[0], 'sAMAccountName')[0];
    const dc = bindDn
      .split(/,(?=\s*dc=)/i)
      .slice(1)
      .join(',');
    if (sam && dc) return `${sam}@${dnsNameFromDn(dc)}`;
  } catch {
    /* fall back to the DN */
  }
  return bindDn;
}

function bases(source: SourceSpec, baseDn: string | undefined, defaultNc: string | undefined): string[] {
  if (source.scope.ous.include.length > 0) return [...source.scope.ous.include];
  if (source.scope.domains.length > 0) return source.scope.domains.map(dnFromDnsName);
  if (baseDn) return [baseDn];
  return defaultNc ? [defaultNc] : [];
}

/** Checks the write rights of every writeback rule. Never throws: failures are findings. */
export async function checkWriteback(
  spec: Pick<Spec, 'sources' | 'writeback' | 'dir'>,
  options: DoctorOptions = {},
): Promise<Finding[]> {
  const out: Finding[] = [];
  const bySource = new Map<string, WritebackRuleSpec[]>();
  for (const r of spec.writeback) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r]);
  for (const [name, rules] of bySource) {
    const source = spec.sources.find((s) => s.name === name);
    if (!source?.ldap) continue;
    let conn: LdapConnection | undefined;
    try {
      const settings = await resolveLdapSettings(source, spec.dir, options.env ?? process.env);
      try {
        conn = await openLdap(settings, { ...options, warn: () => {} });
        await conn.bind();
      } catch (err) {
        out.push({
          source: name,
          check: 'writeback:connect',
          status: 'error',
          message: `writeback: ${(err instanceof AdsyncError ? err : mapLdapError(err, settings)).message}`,
          fix: 'fix the connection first (see the findings above)',
        });
        continue;
      }
      const client = conn.client;
      const root = await readRootDse(client);
      const who = await accountName(client, settings.bindDn);
      const scopeBases = bases(source, settings.baseDn, root.defaultNamingContext);
      for (const rule of rules) {
        const where = `writeback[${rule.index}].${rule.rule}`;
        if (rule.rule === 'group') {
          let ou: string;
          try {
            ou = resolveValue(rule.ou, `${where}.ou`, options.env ?? process.env);
          } catch (err) {
            out.push({
              source: name,
              check: `${where}:ou`,
              status: 'error',
              message: (err as Error).message,
              fix: (err as AdsyncError).hint ?? 'set the OU',
            });
            continue;
          }
          let children: Set<string>;
          try {
            children = await effective(client, ou, 'allowedChildClassesEffective');
          } catch (err) {
            const e = mapLdapError(err, settings, { base: ou });
            out.push({
              source: name,
              check: `${where}:ou`,
              status: 'error',
              message: `${where}.ou ${ou}: ${e.message}`,
              fix: 'create the OU (adsync creates groups in it, never the OU itself), or fix the DN',
            });
            continue;
          }
          out.push(
            children.has('group')
              ? {
                  source: name,
                  check: `${where}:create-group`,
                  status: 'ok',
                  message: `${settings.bindDn} may create group objects in ${ou}`,
                }
              : {
                  source: name,
                  check: `${where}:create-group`,
                  status: 'error',
                  message: `${settings.bindDn} may not create group objects in ${ou} (needed by ${where})`,
                  fix: `delegate Create/Delete group objects on the OU: dsacls "${ou}" /G "${who}:CCDC;group"`,
                },
          );
          const existing = await sample(client, ou, '(&(objectClass=group)(adminDescription=Group_*))');
          if (existing !== undefined) {
            const allowed = await effective(client, existing, 'allowedAttributesEffective');
            const missing = GROUP_WRITE_ATTRIBUTES.filter((a) => !allowed.has(a.toLowerCase()));
            out.push(
              missing.length === 0
                ? {
                    source: name,
                    check: `${where}:write-group`,
                    status: 'ok',
                    message: `${settings.bindDn} may write the written-back groups' properties (checked on ${existing})`,
                  }
                : {
                    source: name,
                    check: `${where}:write-group`,
                    status: 'error',
                    message: `${settings.bindDn} may not write ${missing.join(', ')} on the written-back groups (checked on ${existing})`,
                    fix: `delegate Write all properties on groups below the OU: dsacls "${ou}" /I:S /G "${who}:WP;;group"`,
                  },
            );
          } else if (children.has('group')) {
            out.push({
              source: name,
              check: `${where}:write-group`,
              status: 'ok',
              message: `no written-back group in ${ou} yet: the groups adsync creates are its own (the creator owns them); to manage groups created before, delegate dsacls "${ou}" /I:S /G "${who}:WP;;group"`,
            });
          }
          continue;
        }
        const kinds = rule.rule === 'anchor' ? rule.kinds : [rule.kind];
        const attrs = rule.rule === 'anchor' ? ['mS-DS-ConsistencyGuid'] : Object.keys(rule.flows);
        for (const base of scopeBases) {
          for (const kind of kinds) {
            const filter = kind === 'user' ? '(&(objectClass=user)(!(objectClass=computer)))' : '(objectClass=group)';
            let dn: string | undefined;
            let allowed: Set<string>;
            try {
              dn = await sample(client, base, filter);
              if (dn === undefined) {
                out.push({
                  source: name,
                  check: `${where}:write:${base}`,
                  status: 'warning',
                  message: `no ${kind} under ${base} to check ${where}'s write rights on`,
                  fix: 'run doctor again once the scope holds one',
                });
                continue;
              }
              allowed = await effective(client, dn, 'allowedAttributesEffective');
            } catch (err) {
              out.push({
                source: name,
                check: `${where}:write:${base}`,
                status: 'error',
                message: mapLdapError(err, settings, { base }).message,
                fix: 'check the scope and the read rights (findings above)',
              });
              continue;
            }
            const missing = attrs.filter((a) => !allowed.has(a.toLowerCase()));
            out.push(
              missing.length === 0
                ? {
                    source: name,
                    check: `${where}:write:${base}`,
                    status: 'ok',
                    message: `${settings.bindDn} may write ${attrs.join(', ')} on ${kind}s under ${base} (checked on ${dn})`,
                  }
                : {
                    source: name,
                    check: `${where}:write:${base}`,
                    status: 'error',
                    message: `${settings.bindDn} may not write ${missing.join(', ')} on ${kind}s under ${base} (checked on ${dn}; needed by ${where})`,
                    fix: missing.map((a) => `dsacls "${base}" /I:S /G "${who}:WP;${a};${kind}"`).join('  and  '),
                  },
            );
          }
        }
      }
    } catch (err) {
      out.push({
        source: name,
        check: 'writeback',
        status: 'error',
        message: `writeback: ${(err as Error).message}`,
        fix: 'run again with --debug for details',
      });
    } finally {
      await conn?.close();
    }
  }
  return out;
}
