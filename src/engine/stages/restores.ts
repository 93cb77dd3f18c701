/**
 * Held restores, a step of the diff (src/engine/diff.ts). Graph v1.0 brings a user back under the UPN and
 * addresses it had when deleted (the restore takes no body) and refuses while a live object holds one of them.
 * Apply restores after the user deletes and the updates, one at a time in plan order, each followed by its own
 * update (src/model/target.ts APPLY_STEPS). So a restore whose old UPN or address is held at that point, by an
 * object that keeps it, is held: the object stays in deleted items (the caller reports it), and since the holder
 * keeps the value after this apply too, the next plan holds it again until the value is free.
 */
import { sortChanges } from '../order.js';
import type { AttributeChange, Change, RestoreChange, UpdateChange } from '../../model/change.js';
import { addressesOf, type TargetObject, type TargetSnapshot } from '../../model/target.js';

const lower = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined);

export const RESTORE_HELD = 'restore-held';

/**
 * Which restores apply can make (see the caller): walks the restores in plan order over what live objects hold
 * once the user deletes and updates have run. A restore whose old UPN or address is held is removed from
 * `changes` (`held`); one that goes ahead holds its old addresses and its new UPN and mail from then on, and an
 * attribute of its own update that would take a value held by another object is dropped (`kept`).
 */
export function holdRestores(
  changes: Change[],
  target: TargetSnapshot,
  deleted: ReadonlyMap<string, TargetObject>,
  deletedFirst: (anchor: string) => boolean,
  held: (c: RestoreChange, holder: TargetObject, value: { property: string; value: string }) => void,
  kept: (c: RestoreChange, a: AttributeChange, holder: TargetObject) => void,
): Map<string, TargetObject> {
  /** UPNs and addresses (lower-cased) the restores that go ahead hold after this apply → the restored object. */
  const restored = new Map<string, TargetObject>();
  const restores = changes.filter((c): c is RestoreChange => c.action === 'restore');
  if (restores.length === 0) return restored;
  const updates = new Map<string, UpdateChange>();
  for (const c of changes) if (c.action === 'update') updates.set(c.anchor, c);
  const after = (u: UpdateChange | undefined, name: string): AttributeChange | undefined =>
    u?.attributes.find((a) => a.name === name);
  const upns = new Map<string, TargetObject>();
  const addresses = new Map<string, TargetObject>();
  for (const t of target.objects) {
    if (t.anchor !== undefined && t.kind === 'user' && deletedFirst(t.anchor)) continue;
    const u = t.anchor !== undefined ? updates.get(t.anchor) : undefined;
    const upnChange = after(u, 'userPrincipalName');
    const upn = lower(upnChange ? upnChange.after : t.attrs.userPrincipalName);
    if (t.kind === 'user' && upn) upns.set(upn, t);
    // Graph keeps every address an object had: a new mail adds one, none is given up
    for (const a of addressesOf(t)) addresses.set(a, t);
    const mail = lower(after(u, 'mail')?.after);
    if (mail) addresses.set(mail, t);
  }
  for (const c of sortChanges(restores)) {
    const gone = deleted.get(c.anchor);
    if (!gone) continue;
    const oldUpn = c.kind === 'user' ? lower(gone.attrs.userPrincipalName) : undefined;
    const old = addressesOf(gone);
    const upnHolder = oldUpn !== undefined ? upns.get(oldUpn) : undefined;
    const addressHeld = old.find((a) => addresses.has(a) && addresses.get(a) !== gone);
    if (upnHolder !== undefined && upnHolder !== gone) {
      changes.splice(changes.indexOf(c), 1);
      held(c, upnHolder, { property: 'userPrincipalName', value: oldUpn! });
      continue;
    }
    if (addressHeld !== undefined) {
      changes.splice(changes.indexOf(c), 1);
      held(c, addresses.get(addressHeld)!, { property: 'mail', value: addressHeld });
      continue;
    }
    for (const a of old) {
      addresses.set(a, gone);
      restored.set(a, gone);
    }
    // its own update, right after the restore: a UPN or mail another object holds then is not taken
    for (let i = c.attributes.length - 1; i >= 0; i--) {
      const a = c.attributes[i]!;
      const v = a.name === 'userPrincipalName' || a.name === 'mail' ? lower(a.after) : undefined;
      if (v === undefined) continue;
      const holder = (a.name === 'userPrincipalName' ? upns : addresses).get(v);
      if (holder !== undefined && holder !== gone) {
        c.attributes.splice(i, 1);
        kept(c, a, holder);
      }
    }
    const upn = lower(c.attributes.find((a) => a.name === 'userPrincipalName')?.after) ?? oldUpn;
    if (c.kind === 'user' && upn) {
      upns.set(upn, gone);
      restored.set(upn, gone);
    }
    const mail = lower(c.attributes.find((a) => a.name === 'mail')?.after);
    if (mail) {
      addresses.set(mail, gone);
      restored.set(mail, gone);
    }
  }
  return restored;
}
