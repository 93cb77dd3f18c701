/**
 * Writes to Active Directory for writeback: add, modify and delete over the source's LDAPS (or StartTLS)
 * connection, bound as the source's account (as Entra Connect writes back with its AD DS connector account).
 * DNs are built with escapeDnValue (src/model/dn.ts); binary attributes travel as bytes; member changes are
 * sent in chunks (one modify per chunk of values), and a chunk AD refuses because a value is already there
 * (or already gone) is retried value by value, so a re-run after an interruption converges.
 */
import { AlreadyExistsError, Attribute, Change, NoSuchAttributeError, NoSuchObjectError, TypeOrValueExistsError, UnwillingToPerformError } from 'ldapts';
import { SourceError } from '../../errors.js';
import { BINARY_ATTRIBUTES } from '../../model/entry.js';
import type { SourceSpec } from '../../spec/types.js';
import { mapLdapError, openLdap, resolveLdapSettings } from './connection.js';
import type { ConnectOptions, LdapConnection } from './connection.js';
import { AdSource } from './index.js';
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

function toLdapValues(name: string, values: readonly string[]): string[] | Buffer[] {
  // Binary attributes (ms-DS-ConsistencyGuid, …) are planned as base64 and written as their bytes.
  return BINARY_ATTRIBUTES.has(name.toLowerCase()) ? values.map((v) => Buffer.from(v, 'base64')) : [...values];
}

export class AdWriter {
  /** Modify/add/delete requests sent (each retry counts). */
  writes = 0;

  private constructor(readonly source: SourceSpec, private readonly specDir: string, private readonly conn: LdapConnection, private readonly options: ConnectOptions) {}

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
    return new AdWriter(source, specDir, conn, options);
  }

  private fail(err: unknown, what: string): Error {
    return mapLdapError(err, this.conn.settings, { base: what });
  }

  /** Creates an object; `already` when an object with this DN exists. */
  async add(dn: string, attributes: readonly AttributeWrite[]): Promise<WriteOutcome> {
    const attrs = attributes.filter((a) => a.values.length > 0).map((a) => new Attribute({ type: a.name, values: toLdapValues(a.name, a.values) }));
    this.writes++;
    try {
      await this.conn.client.add(dn, attrs);
      return 'done';
    } catch (err) {
      if (err instanceof AlreadyExistsError) return 'already';
      throw this.fail(err, `add ${dn}`);
    }
  }

  /** Writes attributes of one object in one modify. */
  async modify(dn: string, attributes: readonly AttributeWrite[]): Promise<void> {
    if (attributes.length === 0) return;
    const changes = attributes.map((a) =>
      new Change({
        operation: a.mode === 'add' ? 'add' : 'replace',
        modification: new Attribute({ type: a.name, values: toLdapValues(a.name, a.values) }),
      }));
    this.writes++;
    try {
      await this.conn.client.modify(dn, changes);
    } catch (err) {
      throw this.fail(err, `modify ${dn}`);
    }
  }

  /** Adds (or removes) member values in chunks; values already there (or already gone) count as done. */
  async members(dn: string, operation: 'add' | 'delete', memberDns: readonly string[]): Promise<void> {
    for (let i = 0; i < memberDns.length; i += MEMBER_CHUNK) {
      const chunk = memberDns.slice(i, i + MEMBER_CHUNK);
      this.writes++;
      try {
        await this.conn.client.modify(dn, new Change({ operation, modification: new Attribute({ type: 'member', values: chunk }) }));
        continue;
      } catch (err) {
        if (!this.isValueConflict(err, operation)) throw this.fail(err, `${operation === 'add' ? 'add members to' : 'remove members from'} ${dn}`);
      }
      for (const m of chunk) {
        this.writes++;
        try {
          await this.conn.client.modify(dn, new Change({ operation, modification: new Attribute({ type: 'member', values: [m] }) }));
        } catch (err) {
          if (!this.isValueConflict(err, operation)) throw this.fail(err, `${operation === 'add' ? 'add member' : 'remove member'} ${m} ${operation === 'add' ? 'to' : 'from'} ${dn}`);
        }
      }
    }
  }

  private isValueConflict(err: unknown, operation: 'add' | 'delete'): boolean {
    // AD: adding a member that is there is 20 (attributeOrValueExists); removing one that isn't is 16
    // (noSuchAttribute), or 53 (unwillingToPerform) from some DCs for linked attributes.
    return operation === 'add' ? err instanceof TypeOrValueExistsError : err instanceof NoSuchAttributeError || err instanceof UnwillingToPerformError;
  }

  /** Deletes an object; `already` when it is gone. */
  async delete(dn: string): Promise<WriteOutcome> {
    this.writes++;
    try {
      await this.conn.client.del(dn);
      return 'done';
    } catch (err) {
      if (err instanceof NoSuchObjectError) return 'already';
      throw this.fail(err, `delete ${dn}`);
    }
  }

  async close(): Promise<void> {
    await this.conn.close();
  }

  /**
   * The groups under `ou` that carry the writeback marker (adminDescription=Group_*), with `attributes` (member
   * through ranged retrieval, as the source connector reads it). `where` names the spec setting for errors.
   */
  static async readMarkedGroups(source: SourceSpec, specDir: string, ou: string, attributes: readonly string[], where: string, options: ConnectOptions = {}): Promise<DirectoryEntry[]> {
    const reader = new AdSource({ ...source, scope: { domains: [], ous: { include: [ou], exclude: [] }, groups: [] } }, specDir, options);
    try {
      const snapshot = await reader.read({ attributes: attributes.map((a) => a.toLowerCase()), baseDns: [ou], filter: '(&(objectClass=group)(adminDescription=Group_*))' });
      return snapshot.entries;
    } catch (err) {
      if (err instanceof SourceError && err.code === 'ldap_no_such_object') {
        throw new SourceError('writeback_ou_missing', `${where}: the writeback OU ${ou} does not exist in source ${source.name}`, {
          hint: 'create the OU (adsync creates groups in it, never the OU itself), or fix the DN', cause: err,
        });
      }
      throw err;
    } finally {
      await reader.close();
    }
  }
}
