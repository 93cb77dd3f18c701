/**
 * Graph's directory extension names, in one place: an extension property registered on an application is
 * named `extension_<appId without hyphens>_<name>` (graph-facts: directory extensions). adsync keeps its own
 * state on objects in a few such extensions, all registered on its own application.
 */

/** adsync's anchor: which source object an Entra object is. */
export const ANCHOR_EXTENSION_NAME = 'adsyncAnchor';
/** The digest of the attributes adsync last wrote (drift detection). */
export const DIGEST_EXTENSION_NAME = 'adsyncDigest';
/** The disable-first mark: when a disabled object may be deleted. */
export const PENDING_DELETE_EXTENSION_NAME = 'adsyncDeleteAfter';

const FULL_NAME = /^extension_([0-9a-f]+)_([A-Za-z0-9]+)$/i;

/** `extension_<appId without hyphens, lower-case>_<name>`. */
export function extensionName(appId: string, name: string): string {
  return `extension_${appId.replace(/-/g, '').toLowerCase()}_${name}`;
}

/** The application (its app id without hyphens) and short name of a full extension name; undefined if not one. */
export function parseExtensionName(fullName: string): { app: string; name: string } | undefined {
  const m = FULL_NAME.exec(fullName);
  return m === null ? undefined : { app: m[1]!, name: m[2]! };
}

/** Another extension of the same application as `fullName` (e.g. the digest beside the anchor). */
export function siblingExtension(fullName: string | undefined, name: string): string | undefined {
  if (fullName === undefined) return undefined;
  const parsed = parseExtensionName(fullName);
  return parsed === undefined ? undefined : `extension_${parsed.app}_${name}`;
}

/** The short name of one of adsync's own extensions (`adsyncDeleteAfter`), or undefined for any other name. */
export function adsyncExtensionOf(fullName: string): string | undefined {
  const parsed = parseExtensionName(fullName);
  return parsed !== undefined && parsed.name.startsWith('adsync') ? parsed.name : undefined;
}
