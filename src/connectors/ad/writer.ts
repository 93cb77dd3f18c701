/**
 * Writes to Active Directory for writeback: add, modify and delete over the source's LDAPS (or StartTLS)
 * connection, bound as the source's account (as Entra Connect writes back with its AD DS connector account).
 * DNs are built with escapeDnValue (src/model/dn.ts); binary attributes travel as bytes; member changes are
 * sent in chunks (one modify per chunk of values), and a chunk AD refuses because a value is already there
 * (or already gone) is retried value by value, so a re-run after an interruption converges.
 *
 * A create AD answers with "already exists" (LDAP 68: the DN, or a unique name like sAMAccountName, is taken)
 * is done only when the object at the DN is the one adsync wrote (its ownership marker); otherwise it fails,
 * naming the object in the way. Every failed write says the operation, the DN and AD's own message.
 */
import {
  AlreadyExistsError,
  Attribute,
  Change,
  EqualityFilter,
  NoSuchAttributeError,
  NoSuchObjectError,
  ResultCodeError,
  TypeOrValueExistsError,
  UnwillingToPerformError,
} from 'ldapts';
import { SourceError } from '../../errors.js';
import { normalizeDn } from '../../model/dn.js';
import { BINARY_ATTRIBUTES } from '../../model/entry.js';
import type { SourceSpec } from '../../spec/types.js';
import { mapLdapError, openLdap, resolveLdapSettings } from './connection.js';
import type { ConnectOptions, LdapConnection } from './connection.js';
import { AdSource, type AdSourceOptions } from './index.js';
import {
  GROUP_MARKER_PREFIX as GROUP_MARKER,
  OWNER_ATTRIBUTE as OWNER_MARKER_ATTRIBUTE,
  OWNER_PREFIX as OWNER_MARKER,
} from '../../engine/writeback.js';
import type { DirectoryEntry } from '../../model/entry.js';

/** Member values per modify request: well under AD's request size limits, few round trips. */
export const MEMBER_CHUNK = 500;

/** One attribute's new values (none = remove the attribute). `add` refuses to overwrite an existing value. */
export interface AttributeWrite {
  name: string;
  values: string[];
  mode?: 'replace' | 'add';
}

export type WriteOutcome = 'done' | 'already';

/** The proof a create checks when AD says the object exists: this attribute holds this value. */
export interface OwnerCheck {
  attribute: string;
  value: string;
}

/** LDAP result codes by name, for messages (RFC 4511 §4.1.9; 80 is "other"). */
const RESULT_NAMES: Record<number, string> = {
  1: 'operationsError',
  16: 'noSuchAttribute',
  17: 'undefinedAttributeType',
  19: 'constraintViolation',
  20: 'attributeOrValueExists',
  21: 'invalidAttributeSyntax',
  32: 'noSuchObject',
  34: 'invalidDNSyntax',
  50: 'insufficientAccessRights',
  53: 'unwillingToPerform',
  64: 'namingViolation',
  65: 'objectClassViolation',
  66: 'notAllowedOnNonLeaf',
  67: 'notAllowedOnRDN',
  68: 'entryAlreadyExists',
  80: 'other',
};

const WRITE_HINTS: Record<number, string> = {
  32: 'the object (or its parent OU) does not exist: it was deleted or moved since the plan; plan again',
  50: 'grant the sync account the write rights `adsync doctor` lists for writeback',
  19: 'AD refused a value (length, range or uniqueness): check the flow that computes it',
  21: "AD refused a value's syntax: check the flow that computes it",
  68: 'an object with this name (or one of its unique values) exists already',
};

/** AD's own message, without ldapts' " Code: 0x…" suffix. */
const adMessage = (err: ResultCodeError): string =>
  err.message
    .replace(/\s*Code: 0x[0-9a-f]+$/i, '')
    .split('\n')[0]!
    .trim();

function toLdapValues(name: string, values: readonly string[]): string[] | Buffer[] {
  // Binary attributes (ms-DS-ConsistencyGuid, …) are planned as base64 and written as their bytes.
  return BINARY_ATTRIBUTES.has(name.toLowerCase()) ? values.map((v) => Buffer.from(v, 'base64')) : [...values];
}

export class AdWriter {
  /** Modify/add/delete requests sent (each retry counts). */
  writes = 0;

  private constructor(
    readonly source: SourceSpec,
    private readonly conn: LdapConnection,
  ) {}

  /** Connects and binds as the source's account. */
  static async open(source: SourceSpec, specDir: string, options: ConnectOptions = {}): Promise<AdWriter> {
    const settings = await resolveLdapSettings(source, specDir, options.env ?? process.env);
    const conn = await openLdap(settings, options);
    try {
      await conn.bind();
    } catch (err) {
      await conn.close();
      throw err;
    }
    return new AdWriter(source, conn);
  }

  /**
   * A failed write as one line: the operation, the DN (and what was written), AD's message and result code.
   * Connection and TLS failures keep their own messages (mapLdapError).
   */
  private fail(err: unknown, operation: 'add' | 'modify' | 'delete', dn: string, what = ''): Error {
    if (!(err instanceof ResultCodeError)) return mapLdapError(err, this.conn.settings, { base: `${operation} ${dn}` });
    const s = this.conn.settings;
    return new SourceError(
      'ldap_write_failed',
      `LDAP ${operation} ${dn}${what} failed on ${s.host}:${s.port}: ${adMessage(err)} (LDAP ${err.code} ${RESULT_NAMES[err.code] ?? ''})`.replace(
        / \)$/,
        ')',
      ),
      {
        hint: WRITE_HINTS[err.code] ?? "run `adsync doctor` to check the account's write rights",
        cause: err,
      },
    );
  }

  /**
   * Creates an object. When AD answers "already exists", the object at `dn` must carry `owner` (adsync's
   * marker with the cloud id): then the create was done before (`already`); otherwise this is a conflict,
   * and the error names what is in the way (the object at the DN, or the holder of the sAMAccountName).
   */
  async add(dn: string, attributes: readonly AttributeWrite[], owner?: OwnerCheck): Promise<WriteOutcome> {
    const attrs = attributes
      .filter((a) => a.values.length > 0)
      .map((a) => new Attribute({ type: a.name, values: toLdapValues(a.name, a.values) }));
    this.writes++;
    try {
      await this.conn.client.add(dn, attrs);
      return 'done';
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw this.fail(err, 'add', dn);
      const sam = attributes.find((a) => a.name.toLowerCase() === 'samaccountname')?.values[0];
      const conflict = await this.whatIsInTheWay(dn, owner, sam);
      if (conflict === undefined) return 'already';
      const s = this.conn.settings;
      throw new SourceError(
        'writeback_conflict',
        `LDAP add ${dn} failed on ${s.host}:${s.port}: ${conflict} (LDAP 68 entryAlreadyExists: ${adMessage(err)})`,
        {
          hint: 'rename or remove the object in the way (or change the flow that names the group); adsync never takes over an object it did not write',
          cause: err,
        },
      );
    }
  }

  /** After "already exists": undefined when the object at `dn` is adsync's (owner matches), else what is in the way. */
  private async whatIsInTheWay(
    dn: string,
    owner: OwnerCheck | undefined,
    sam: string | undefined,
  ): Promise<string | undefined> {
    const attributes = [...(owner ? [owner.attribute] : []), 'sAMAccountName', 'objectClass'];
    let found: Record<string, unknown> | undefined;
    try {
      const { searchEntries } = await this.conn.client.search(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes,
      });
      found = searchEntries[0];
    } catch (err) {
      if (!(err instanceof NoSuchObjectError)) throw this.fail(err, 'add', dn, ' (reading the existing object)');
    }
    const value = (e: Record<string, unknown>, name: string): string | undefined => {
      const k = Object.keys(e).find((x) => x.toLowerCase() === name.toLowerCase());
      const v = k === undefined ? undefined : e[k];
      const first = Array.isArray(v) ? v[0] : v;
      return first === undefined ? undefined : String(first);
    };
    if (found) {
      if (owner && value(found, owner.attribute) === owner.value) return undefined;
      const mark = owner ? value(found, owner.attribute) : undefined;
      return `${found['dn'] as string} exists and is not adsync's (${owner ? `its ${owner.attribute} is ${mark === undefined ? 'empty' : JSON.stringify(mark)}, not ${JSON.stringify(owner.value)}` : 'no ownership marker to check'})`;
    }
    if (sam !== undefined) {
      const holder = await this.findSamAccountName(dn, sam);
      if (holder !== undefined)
        return `sAMAccountName ${sam} is already taken by ${holder} (AD compares sAMAccountName case-insensitively)`;
    }
    return `a unique value of the new object is already taken (AD did not say which)`;
  }

  /** The DN of the object holding a sAMAccountName in the domain of `dn` (AD matches it case-insensitively). */
  private async findSamAccountName(dn: string, sam: string): Promise<string | undefined> {
    const domain = domainOf(dn);
    const { searchEntries } = await this.conn.client.search(domain, {
      scope: 'sub',
      filter: new EqualityFilter({ attribute: 'sAMAccountName', value: sam }),
      attributes: ['1.1'],
      sizeLimit: 1,
    });
    return searchEntries[0]?.dn;
  }

  /** Writes attributes of one object in one modify. */
  async modify(dn: string, attributes: readonly AttributeWrite[]): Promise<void> {
    if (attributes.length === 0) return;
    const changes = attributes.map(
      (a) =>
        new Change({
          operation: a.mode === 'add' ? 'add' : 'replace',
          modification: new Attribute({ type: a.name, values: toLdapValues(a.name, a.values) }),
        }),
    );
    this.writes++;
    try {
      await this.conn.client.modify(dn, changes);
    } catch (err) {
      throw this.fail(err, 'modify', dn, ` (${attributes.map((a) => a.name).join(', ')})`);
    }
  }

  /** Adds (or removes) member values in chunks; values already there (or already gone) count as done. */
  async members(dn: string, operation: 'add' | 'delete', memberDns: readonly string[]): Promise<void> {
    for (let i = 0; i < memberDns.length; i += MEMBER_CHUNK) {
      const chunk = memberDns.slice(i, i + MEMBER_CHUNK);
      this.writes++;
      try {
        await this.conn.client.modify(
          dn,
          new Change({ operation, modification: new Attribute({ type: 'member', values: chunk }) }),
        );
        continue;
      } catch (err) {
        if (!this.isValueConflict(err, operation))
          throw this.fail(
            err,
            'modify',
            dn,
            ` (${operation === 'add' ? 'add' : 'remove'} ${chunk.length} member value(s))`,
          );
      }
      for (const m of chunk) {
        this.writes++;
        try {
          await this.conn.client.modify(
            dn,
            new Change({ operation, modification: new Attribute({ type: 'member', values: [m] }) }),
          );
        } catch (err) {
          if (!this.isValueConflict(err, operation))
            throw this.fail(err, 'modify', dn, ` (${operation === 'add' ? 'add' : 'remove'} member ${m})`);
        }
      }
    }
  }

  private isValueConflict(err: unknown, operation: 'add' | 'delete'): boolean {
    // AD: adding a member that is there is 20 (attributeOrValueExists); removing one that isn't is 16
    // (noSuchAttribute), or 53 (unwillingToPerform) from some DCs for linked attributes.
    return operation === 'add'
      ? err instanceof TypeOrValueExistsError
      : err instanceof NoSuchAttributeError || err instanceof UnwillingToPerformError;
  }

  /** Deletes an object; `already` when it is gone. */
  async delete(dn: string): Promise<WriteOutcome> {
    this.writes++;
    try {
      await this.conn.client.del(dn);
      return 'done';
    } catch (err) {
      if (err instanceof NoSuchObjectError) return 'already';
      throw this.fail(err, 'delete', dn);
    }
  }

  async close(): Promise<void> {
    await this.conn.close();
  }

  /**
   * What group writeback needs of AD for one rule: the groups that carry adsync's ownership marker anywhere in
   * the OU's domain (an admin may have moved one), the groups under `ou` that carry only the Group_ marker, with
   * `attributes` (member through ranged retrieval), and the names (cn, sAMAccountName) of every user, group
   * and contact under `ou`, for collisions. `where` names the spec setting for errors.
   */
  static async readWritebackGroups(
    source: SourceSpec,
    specDir: string,
    ou: string,
    attributes: readonly string[],
    where: string,
    options: AdSourceOptions = {},
  ): Promise<{ groups: DirectoryEntry[]; names: { dn: string; cn?: string; sam?: string }[] }> {
    const reader = new AdSource(
      { ...source, scope: { domains: [], ous: { include: [ou], exclude: [] }, groups: [] } },
      specDir,
      { ...options, computers: false },
    );
    const attrs = attributes.map((a) => a.toLowerCase());
    const text = (e: DirectoryEntry, a: string): string | undefined => {
      const v = e.attrs[a]?.[0];
      return v === undefined ? undefined : typeof v === 'string' ? v : Buffer.from(v).toString('utf8');
    };
    try {
      const inOu = await reader.read({
        attributes: attrs,
        baseDns: [ou],
        filter: `(&(objectClass=group)(|(adminDescription=${GROUP_MARKER}*)(${OWNER_MARKER_ATTRIBUTE}=${OWNER_MARKER}*)))`,
      });
      const moved = await reader.read({
        attributes: attrs,
        baseDns: [domainOf(ou)],
        filter: `(&(objectClass=group)(${OWNER_MARKER_ATTRIBUTE}=${OWNER_MARKER}*))`,
      });
      const all = await reader.read({ attributes: ['cn', 'samaccountname'], baseDns: [ou] });
      const seen = new Set(inOu.entries.map((e) => normalizeDn(e.dn)));
      const groups = [...inOu.entries, ...moved.entries.filter((e) => !seen.has(normalizeDn(e.dn)))];
      const names = all.entries.map((e) => {
        const cn = text(e, 'cn');
        const sam = text(e, 'samaccountname');
        return { dn: e.dn, ...(cn === undefined ? {} : { cn }), ...(sam === undefined ? {} : { sam }) };
      });
      return { groups, names };
    } catch (err) {
      if (err instanceof SourceError && err.code === 'ldap_no_such_object') {
        throw new SourceError(
          'writeback_ou_missing',
          `${where}: the writeback OU ${ou} does not exist in source ${source.name}`,
          {
            hint: 'create the OU (adsync creates groups in it, never the OU itself), or fix the DN',
            cause: err,
          },
        );
      }
      throw err;
    } finally {
      await reader.close();
    }
  }
}

/** The domain (DC= components) a DN lies in: where sAMAccountName must be unique. */
function domainOf(dn: string): string {
  const parts = normalizeDn(dn).split(',');
  const i = parts.findIndex((p) => p.startsWith('dc='));
  return i < 0 ? dn : parts.slice(i).join(',');
}
