/**
 * Security identifiers. AD stores `objectSid` as bytes; Entra records it as `onPremisesSecurityIdentifier` in
 * its string form (S-1-5-21-…), which is how groups and users that Entra Connect created are joined back to AD.
 */

/**
 * The string form of a binary SID (MS-DTYP §2.4.2.2): revision, 48-bit big-endian identifier authority, then
 * the sub-authorities as 32-bit little-endian numbers. Undefined for bytes that are not a well-formed SID.
 */
export function sidToString(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8) return undefined;
  const revision = bytes[0]!;
  const count = bytes[1]!;
  if (revision !== 1 || count > 15 || bytes.length !== 8 + 4 * count) return undefined;
  let authority = 0;
  for (let i = 2; i < 8; i++) authority = authority * 256 + bytes[i]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(view.getUint32(8 + 4 * i, true));
  return ['S', revision, authority, ...subs].join('-');
}

/** The binary form of a string SID, or undefined when it is not one (the inverse of sidToString). */
export function sidToBytes(sid: string): Uint8Array | undefined {
  const m = /^S-1-(\d+)((?:-\d+){0,15})$/i.exec(sid);
  if (!m) return undefined;
  const authority = Number(m[1]);
  if (!Number.isSafeInteger(authority) || authority >= 2 ** 48) return undefined;
  const subs = m[2] ? m[2].slice(1).split('-').map(Number) : [];
  if (subs.some((s) => s > 0xffffffff)) return undefined;
  const out = new Uint8Array(8 + 4 * subs.length);
  out[0] = 1;
  out[1] = subs.length;
  let a = authority;
  for (let i = 7; i >= 2; i--) {
    out[i] = a % 256;
    a = Math.floor(a / 256);
  }
  const view = new DataView(out.buffer);
  subs.forEach((s, i) => view.setUint32(8 + 4 * i, s, true));
  return out;
}

/** SIDs compare case-insensitively in their string form (the `S` prefix). */
export function sameSid(a: string, b: string): boolean {
  return a.toUpperCase() === b.toUpperCase();
}
