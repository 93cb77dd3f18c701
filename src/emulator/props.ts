/**
 * Writing properties from a POST/PATCH body onto a stored object: what is writable, value checks, directory
 * extension values (graph-facts §1 property table, §11), and the UPN rules (graph-facts §1 UPN rules).
 */
import { EXTENSION_PROPERTY, type EntitySchema } from './schema.js';
import { GraphError, badRequest, invalidValues } from './http.js';
import { targetName } from './query.js';
import type { Store } from './store.js';

const BOOLEAN = new Set([
  'accountEnabled',
  'showInAddressList',
  'mailEnabled',
  'securityEnabled',
  'isAssignableToRole',
]);
const STRING_ARRAY = new Set(['businessPhones', 'otherMails', 'groupTypes', 'imAddresses']);
const OBJECT = new Set(['passwordProfile', 'onPremisesExtensionAttributes']);

/** graph-facts §1 UPN rules. Returns the reason it is invalid, or undefined. */
export function upnProblem(upn: unknown, verifiedDomains: string[]): 'invalid' | 'domain' | undefined {
  if (typeof upn !== 'string') return 'invalid';
  const at = upn.indexOf('@');
  if (at <= 0 || upn.indexOf('@', at + 1) >= 0) return 'invalid';
  const local = upn.slice(0, at);
  const domain = upn.slice(at + 1);
  if (upn.length > 113 || local.length > 64 || domain.length > 48 || domain.length === 0) return 'invalid';
  if (!/^[A-Za-z0-9'.\-_!#^~]+$/.test(local)) return 'invalid';
  if (local.endsWith('.')) return 'invalid';
  if (!verifiedDomains.some((d) => d.toLowerCase() === domain.toLowerCase())) return 'domain';
  return undefined;
}

export function upnError(problem: 'invalid' | 'domain'): GraphError {
  if (problem === 'domain') {
    // The documented rule (verified domains); the message is the one the service uses for it.
    return new GraphError(
      400,
      'Request_BadRequest',
      'The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.',
      [{ code: 'InvalidValue', target: 'userPrincipalName' }],
    );
  }
  return invalidValues();
}

/** `mail`: an SMTP address, no accents (graph-facts §1). */
export function validMail(v: unknown): boolean {
  return typeof v === 'string' && /^[\x21-\x7e]+@[\x21-\x7e]+$/.test(v) && v.length <= 256;
}

/** Group mailNickname: ≤ 64 ASCII chars, none of @ () \ [] " ; : . <> , SPACE (graph-facts §2). */
export function validGroupNickname(v: unknown): boolean {
  return (
    typeof v === 'string' && v.length > 0 && v.length <= 64 && /^[\x21-\x7e]+$/.test(v) && !/[@()\\[\]";:.<>, ]/.test(v)
  );
}

function extensionValue(dataType: string, v: unknown): boolean {
  switch (dataType) {
    case 'String':
      return typeof v === 'string' && v.length <= 256;
    case 'Boolean':
      return typeof v === 'boolean';
    case 'Integer':
      return Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31;
    case 'LargeInteger':
      return Number.isInteger(v);
    case 'DateTime':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v));
    case 'Binary':
      return typeof v === 'string' && Buffer.from(v, 'base64').length <= 256;
    default:
      return false;
  }
}

/**
 * Applies body properties to `target` (a copy the caller commits only if everything is valid).
 * Keys ending in `@odata.bind` are left for the caller. Throws GraphError on the first problem.
 */
export function applyProps(
  store: Store,
  schema: EntitySchema,
  target: Record<string, unknown>,
  body: Record<string, unknown>,
  mode: 'create' | 'update',
): void {
  for (const [key, value] of Object.entries(body)) {
    if (key.endsWith('@odata.bind') || key === '@odata.type') continue;
    if (EXTENSION_PROPERTY.test(key)) {
      const ext = store.extensions.get(key);
      if (!ext || !ext.targetObjects.includes(targetName(schema))) {
        throw badRequest(`Property '${key}' does not exist as a declared property or extension property.`);
      }
      if (value === null) {
        delete target[key];
        continue;
      } // graph-facts §11: set null to remove
      const values = ext.isMultiValued ? value : [value];
      if (!Array.isArray(values) || !values.every((x) => extensionValue(ext.dataType, x))) throw invalidValues();
      target[key] = value;
      continue;
    }
    if (!schema.properties.has(key)) {
      throw badRequest(`Property '${key}' does not exist as a declared property or extension property.`);
    }
    const cloudOnly = target['onPremisesSyncEnabled'] !== true;
    if (schema.readOnly.has(key)) {
      throw badRequest(`Property '${key}' is read-only and cannot be set.`);
    }
    if (key === 'onPremisesExtensionAttributes' && !cloudOnly) {
      // graph-facts §1/§11: read-only for users synced from on-premises.
      throw badRequest(`Property '${key}' is read-only and cannot be set.`);
    }
    if (value === null) {
      if (
        key === 'displayName' ||
        BOOLEAN.has(key) ||
        key === 'userPrincipalName' ||
        key === 'mailNickname' ||
        key === 'passwordProfile'
      ) {
        throw invalidValues(); // "displayName cannot be cleared" (graph-facts §1, §2)
      }
      delete target[key];
      continue;
    }
    if (BOOLEAN.has(key)) {
      if (typeof value !== 'boolean') throw invalidValues();
    } else if (STRING_ARRAY.has(key)) {
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) throw invalidValues();
    } else if (OBJECT.has(key)) {
      if (typeof value !== 'object' || Array.isArray(value)) throw invalidValues();
      if (key === 'passwordProfile') {
        const pw = (value as Record<string, unknown>)['password'];
        if (mode === 'create' && (typeof pw !== 'string' || pw.length === 0)) throw invalidValues();
      }
      if (key === 'onPremisesExtensionAttributes') {
        const merged: Record<string, unknown> = { ...(target[key] as Record<string, unknown> | undefined) };
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (!/^extensionAttribute([1-9]|1[0-5])$/.test(k)) throw invalidValues();
          if (v !== null && (typeof v !== 'string' || v.length > 1024)) throw invalidValues();
          merged[k] = v;
        }
        target[key] = merged;
        continue;
      }
    } else if (typeof value !== 'string') {
      throw invalidValues();
    } else {
      const max = schema.maxLength[key];
      if (max !== undefined && value.length > max) throw invalidValues();
      if (key === 'displayName' && value.trim().length === 0) throw invalidValues();
      if (key === 'onPremisesImmutableId' && /[$_]/.test(value)) throw invalidValues(); // graph-facts §1
      if (key === 'usageLocation' && !/^[A-Za-z]{2}$/.test(value)) throw invalidValues();
      if (key === 'mail' && !validMail(value)) throw invalidValues();
      if (key === 'mailNickname' && schema.kind === 'group' && !validGroupNickname(value)) throw invalidValues();
    }
    target[key] = value;
  }
  // graph-facts §11: at most 100 extension values per object.
  let n = 0;
  for (const k of Object.keys(target)) if (EXTENSION_PROPERTY.test(k)) n++;
  if (n > 100) throw invalidValues();
}

/** `mail` feeds `proxyAddresses`: the new address becomes the primary SMTP address (graph-facts §1). */
export function proxyAddressesWithMail(current: unknown, mail: string): string[] {
  const list = Array.isArray(current) ? (current as string[]) : [];
  const key = mail.toLowerCase();
  const rest = list
    .filter((a) => a.replace(/^smtp:/i, '').toLowerCase() !== key)
    .map((a) => (a.startsWith('SMTP:') ? `smtp:${a.slice(5)}` : a));
  return [`SMTP:${mail}`, ...rest];
}

/** The conflicting object's id if any address of `addresses` is held by another object. */
export function proxyConflict(store: Store, selfId: string, addresses: Iterable<string>): string | undefined {
  for (const a of addresses) {
    const holder = store.proxies.get(a.replace(/^smtp:/i, '').toLowerCase());
    if (holder !== undefined && holder !== selfId) return holder;
  }
  return undefined;
}
