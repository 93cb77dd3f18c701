/**
 * Duplicate-attribute resiliency, as the Entra service does it for every sync client (entra-connect-defaults §5,
 * S7): when two objects would hold the same UPN or mail, the conflicting *value* is quarantined on one of them;
 * that object keeps everything else — its other attributes, accountEnabled (a leaver's disable still flows) and
 * its memberships — and the plan reports it with both holders named. Once the other object lets the value go,
 * the next plan writes it.
 *
 * Who keeps the value (deterministic): the object that holds it in the cloud already (a live one before one in
 * deleted items); else one that exists there already; else the first by DN. The other one:
 *   - exists in the cloud: keeps its current value for that property (the change is not written);
 *   - is new: is created without the mail, or with Entra's quarantine UPN `<user part><4 digits>@<initial
 *     domain>` (S7: "User1234@contoso.onmicrosoft.com"; the digits come from its anchor, so every plan agrees).
 */
import { createHash } from 'node:crypto';
import type { ReportItem } from '../model/change.js';
import type { ObjectKind, TargetObject, TargetSystem } from '../model/target.js';

export const DUPLICATE_QUARANTINED = 'duplicate-value-quarantined';

/** What this stage reads and writes of a desired object (a structural subset of DesiredObject). */
export interface ContendingObject {
  kind: ObjectKind;
  anchor: string;
  source: string;
  dn: string;
  ndn: string;
  label: string;
  attrs: Record<string, unknown>;
  readOnly?: unknown;
}

export const QUARANTINED_PROPERTIES = ['userPrincipalName', 'mail'] as const;
export type QuarantinedProperty = (typeof QUARANTINED_PROPERTIES)[number];

const lower = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined);

/** Entra's quarantine UPN for a new object whose UPN another object holds: `<user part><4 digits>@<initial>`. */
export function quarantineUpn(upn: string, anchor: string, initialDomain: string): string {
  const at = upn.lastIndexOf('@');
  const digits = String(createHash('sha256').update(anchor).digest().readUInt32BE(0) % 10000).padStart(4, '0');
  // 64 characters at most before the @ (graph-facts §1)
  return `${(at > 0 ? upn.slice(0, at) : upn).slice(0, 60)}${digits}@${initialDomain}`;
}

/** Does the cloud object hold this value (lower-cased) for the property? */
function holds(t: TargetObject | undefined, property: QuarantinedProperty, value: string): boolean {
  if (!t) return false;
  if (lower(t.attrs[property]) === value) return true;
  if (property !== 'mail' || !Array.isArray(t.attrs.proxyAddresses)) return false;
  return t.attrs.proxyAddresses.some((p) => typeof p === 'string' && p.toLowerCase() === `smtp:${value}`);
}

/**
 * Resolves every UPN and mail two desired objects compute alike. Writes the losers' values through `settle` (see
 * the file comment) and returns one report per loser. `current`: anchor → the cloud object the desired object already is
 * (owned or in deleted items). Without `initialDomain` (no tenant) a new object's UPN can't be quarantined:
 * such a loser is returned in `blocked` (not written, as before).
 */
export function quarantineDuplicates(
  objects: readonly ContendingObject[],
  skip: (o: ContendingObject) => boolean,
  current: (anchor: string) => TargetObject | undefined,
  system: TargetSystem,
  initialDomain: string | undefined,
  /** Whether `current(anchor)` is in deleted items (not live). */
  inDeletedItems: (anchor: string) => boolean = () => false,
  /**
   * Whether an object adsync doesn't own holds the value (and soft match won't adopt it): then no claimant
   * gets it, and each meets that collision on its own (a new one isn't created, an existing one keeps its
   * value). A winner here would never hold it, and the next plan would pick another (found by
   * test/convergence: two new users with a cloud-only user's UPN, created one per apply).
   */
  heldOutside: (property: QuarantinedProperty, value: string) => boolean = () => false,
  /** Where a loser's quarantined value is written: the caller's copy of its attrs (default: the object's own). */
  settle: (o: ContendingObject) => Record<string, unknown> = (o) => o.attrs,
): { reports: ReportItem[]; blocked: Set<ContendingObject> } {
  const reports: ReportItem[] = [];
  const blocked = new Set<ContendingObject>();
  for (const property of QUARANTINED_PROPERTIES) {
    const claimants = new Map<string, ContendingObject[]>();
    for (const o of objects) {
      if (o.readOnly || o.kind === 'contact' || skip(o) || (property === 'userPrincipalName' && o.kind !== 'user'))
        continue;
      const v = lower(o.attrs[property]);
      if (v === undefined) continue;
      const list = claimants.get(v);
      if (list) list.push(o);
      else claimants.set(v, [o]);
    }
    for (const [value, list] of claimants) {
      if (list.length < 2 || heldOutside(property, value)) continue;
      // A live holder first: a soft-deleted one gave the value up when it was deleted (Graph lets another
      // object take it meanwhile) and only gets it back with its restore.
      const rank = (o: ContendingObject): number => {
        const t = current(o.anchor);
        return t === undefined ? 3 : holds(t, property, value) ? (inDeletedItems(o.anchor) ? 1 : 0) : 2;
      };
      const sorted = [...list].sort((a, b) => rank(a) - rank(b) || (a.ndn < b.ndn ? -1 : a.ndn > b.ndn ? 1 : 0));
      const winner = sorted[0]!;
      for (const loser of sorted.slice(1)) {
        const existing = current(loser.anchor);
        let outcome: string;
        if (existing) {
          const before = existing.attrs[property];
          settle(loser)[property] = before === undefined ? null : before;
          outcome = `it keeps ${JSON.stringify(before ?? null)}`;
        } else if (property === 'mail') {
          settle(loser).mail = null;
          outcome = 'it is created without it';
        } else if (initialDomain !== undefined) {
          const q = quarantineUpn(String(loser.attrs[property]), loser.anchor, initialDomain);
          settle(loser)[property] = q;
          outcome = `it is created as ${q}`;
        } else {
          blocked.add(loser);
          outcome = 'it is not created';
        }
        reports.push({
          code: DUPLICATE_QUARANTINED,
          kind: loser.kind,
          target: system,
          anchor: loser.anchor,
          sourceDn: loser.dn,
          source: loser.source,
          label: loser.label,
          reason:
            `${property} ${value} is also computed for ${winner.kind} ${winner.label} (${winner.dn}), which keeps it; ` +
            `the value is quarantined here (${outcome}) and everything else flows; it is written once ${winner.label} lets it go`,
          other: { label: winner.label, sourceDn: winner.dn },
        });
      }
    }
  }
  return { reports, blocked };
}
