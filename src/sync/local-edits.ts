/**
 * The stored plan, patched for local edits (issue 15; the engine's half is ../engine/local-edits.ts).
 *
 * When the spec, adsync and the tenant are what the stored plan was made from and an LDIF export changed only
 * inside some records (the same records, keys and order: ../connectors/ldif/records.ts), the edited records are
 * read alone, with the records of the managers they name, the desired objects are built from them, and what the
 * plan reads of each edited record must be what the last full plan stored for it (entryVerdicts: a user's shared
 * digest, an excluded object's exclusion, an OU's or computer's DN). The edited users, their managers and their
 * objects in the tenant (from the stored target state) are then planned as a small plan, and its changes for the
 * edited users replace theirs in the stored plan; an edited record that is no object the plan reads differently
 * changes nothing. Anything else — a record added, removed, renamed or reordered; a group or contact edited; an
 * object entering or leaving the scope; an edited user held, reported about or not yet in the tenant; too many
 * edits — refuses, with the reason, and the caller plans in full.
 */
import { buildDesired } from '../engine/desired.js';
import { REFERENCE_PROPERTIES } from '../engine/flows.js';
import type { KindFlows } from '../engine/flows.js';
import { entryVerdicts, patchPlan, SHARED_DIGEST_BYTES } from '../engine/local-edits.js';
import { planFor } from '../engine/plan.js';
import type { ClockWindow } from '../engine/safety.js';
import { LdifSource } from '../connectors/ldif/index.js';
import { DIGEST_BYTES, KEY_BYTES, readSpans, type LdifRecordIndex } from '../connectors/ldif/records.js';
import type { DirectoryEntry, SourceReadRequest, SourceSnapshot } from '../model/entry.js';
import type { Plan } from '../model/plan.js';
import type { DirectorySyncStatus, ObjectKind, TargetObject, TenantInfo } from '../model/target.js';
import type { SourceSpec, Spec } from '../spec/types.js';
import { RECORD_ENTRY_BYTES, type StoredRecords } from './state-snapshots.js';

/** More edited records than this and a full plan is as quick (and the patch's reads would not be small). */
export const MAX_LOCAL_EDITS = 2_000;

export interface EditedSource {
  source: SourceSpec;
  request: SourceReadRequest;
  path: string;
  /** The records as the last full plan saw them. */
  stored: StoredRecords;
  /** The records now (with spans and dn lines). */
  index: LdifRecordIndex;
}

export interface LocalEditsInput {
  stored: Omit<Plan, 'read'>;
  storedClock: ClockWindow;
  spec: Spec;
  specPath: string;
  toolVersion: string;
  flows: Record<ObjectKind, KindFlows>;
  sources: readonly EditedSource[];
  /**
   * The stored target's live objects with these anchors, or these ids (its links found no change since the
   * stored plan).
   */
  target: (
    anchors: ReadonlySet<string>,
    ids?: ReadonlySet<string>,
  ) => Promise<{ objects: TargetObject[]; adminRolesUnread?: string } | undefined>;
  tenant: TenantInfo | undefined;
  directorySync: DirectorySyncStatus | undefined;
  extensions: ReadonlySet<string>;
  deleteMark: string | undefined;
  now: Date;
}

export type LocalEditsResult =
  | {
      plan: Omit<Plan, 'read'>;
      clock: ClockWindow;
      /** Records edited, per source. */
      edited: Map<string, number>;
      /** The records to store, per source. */
      records: Map<string, StoredRecords>;
    }
  | { refused: string };

const at = (index: Buffer, i: number, offset: number, bytes: number): Buffer =>
  index.subarray(i * RECORD_ENTRY_BYTES + offset, i * RECORD_ENTRY_BYTES + offset + bytes);

/** The DN a raw `dn:` line gives (unfolded; `dn::` is base64 of UTF-8). */
function dnOf(line: string): string {
  const unfolded = line.replace(/\r?\n /g, '');
  if (unfolded.startsWith('dn::')) return Buffer.from(unfolded.slice(4).trim(), 'base64').toString('utf8');
  return Buffer.from(unfolded.slice(3).replace(/^ +/, ''), 'latin1').toString('utf8');
}

export async function patchForLocalEdits(input: LocalEditsInput): Promise<LocalEditsResult> {
  // A pilot scope (scope.groups) puts users in scope through their groups' records: not patched.
  if (input.sources.some((s) => s.source.scope.groups.length > 0))
    return { refused: 'a pilot scope (scope.groups) decides users by their groups' };
  // 1. Which records changed: the same keys in the same order, and the same frame.
  const changed = new Map<string, number[]>();
  let total = 0;
  for (const s of input.sources) {
    const { stored, index } = s;
    if (stored.count !== index.count || stored.frame !== index.frame)
      return { refused: `records were added or removed in source ${s.source.name}` };
    const edits: number[] = [];
    for (let i = 0; i < index.count; i++) {
      if (
        index.keys.compare(
          stored.index,
          i * RECORD_ENTRY_BYTES,
          i * RECORD_ENTRY_BYTES + KEY_BYTES,
          i * KEY_BYTES,
          (i + 1) * KEY_BYTES,
        ) !== 0
      )
        return { refused: `records were renamed or reordered in source ${s.source.name}` };
      if (
        index.digests.compare(
          stored.index,
          i * RECORD_ENTRY_BYTES + KEY_BYTES,
          i * RECORD_ENTRY_BYTES + KEY_BYTES + DIGEST_BYTES,
          i * DIGEST_BYTES,
          (i + 1) * DIGEST_BYTES,
        ) !== 0
      )
        edits.push(i);
    }
    total += edits.length;
    if (total > MAX_LOCAL_EDITS) return { refused: `more than ${MAX_LOCAL_EDITS} records were edited` };
    changed.set(s.source.name, edits);
  }

  // 2. The edited records read alone, with the records of the managers they name.
  const snapshots: SourceSnapshot[] = [];
  const editedDns = new Map<string, { source: string; ordinal: number; entry: DirectoryEntry }>();
  for (const s of input.sources) {
    const edits = changed.get(s.source.name)!;
    const reader = new LdifSource({ name: s.source.name, path: s.path });
    const span = (i: number): [number, number] => [s.index.spans![2 * i]!, s.index.spans![2 * i + 1]!];
    const first = reader.readRecords(s.request, await readSpans(s.path, edits.map(span)), s.stored.namingContexts);
    // Which edited record each entry is (a record outside the search bases is no entry: nothing to plan).
    const editAt = new Map(edits.map((i) => [dnOf(s.index.dnLines![i]!), i] as const));
    // A domain root names the naming contexts (stored from the full read): one edited is planned in full.
    for (const dn of editAt.keys())
      if (/^\s*dc\s*=/i.test(dn)) return { refused: `a domain root was edited in source ${s.source.name} (${dn})` };
    for (const e of first.entries) {
      const i = editAt.get(e.dn);
      if (i === undefined) return { refused: `an edited record's DN can't be told from its dn line (${e.dn})` };
      editedDns.set(e.dn, { source: s.source.name, ordinal: i, entry: e });
    }
    let ordinalOf: Map<string, number> | undefined;
    const wanted = new Set(edits);
    for (const e of first.entries)
      for (const v of e.attrs['manager'] ?? []) {
        if (typeof v !== 'string') continue;
        ordinalOf ??= new Map(s.index.dnLines!.map((l, i) => [dnOf(l), i] as const));
        const m = ordinalOf.get(v);
        if (m !== undefined) wanted.add(m);
      }
    const all = [...wanted].sort((a, b) => a - b);
    snapshots.push(
      all.length === edits.length
        ? first
        : reader.readRecords(s.request, await readSpans(s.path, all.map(span)), s.stored.namingContexts),
    );
  }
  // 3. The desired objects: what the plan reads of each edited record the same as before (entryVerdicts); an
  //    edited user is planned anew, an object excluded or not synchronized the same way before and after is no
  //    edit of the plan at all.
  const desired = buildDesired(input.spec, snapshots, input.flows);
  const edited = new Set<string>();
  const verdicts = new Map(input.sources.map((s) => [s.source.name, entryVerdicts(desired, s.source.name)] as const));
  for (const [dn, where] of editedDns) {
    const v = verdicts.get(where.source)!;
    const obj = v.objectOf(where.entry);
    const stored = input.sources.find((s) => s.source.name === where.source)!.stored.index;
    const before = at(stored, where.ordinal, KEY_BYTES + DIGEST_BYTES, SHARED_DIGEST_BYTES);
    const now = v.verdict(where.entry);
    if (now === undefined || before.every((b) => b === 0) || !now.equals(before))
      return { refused: `an edit to ${obj?.label ?? dn} changes more than its own properties` };
    if (obj === undefined) continue;
    if (desired.held.has(obj.anchor)) return { refused: `${obj.label} is held` };
    edited.add(obj.anchor);
  }

  // 4. Their objects in the tenant, as the stored plan saw them.
  const anchors = new Set(desired.objects.map((o) => o.anchor));
  const state = await input.target(anchors);
  if (state === undefined) return { refused: 'no stored target state' };
  const byAnchor = new Map<string, TargetObject>();
  for (const o of state.objects) if (o.anchor !== undefined) byAnchor.set(o.anchor, o);
  const objects: TargetObject[] = [];
  for (const o of desired.objects) {
    const t = byAnchor.get(o.anchor);
    if (t === undefined) return { refused: `${o.label} is not in the tenant yet` };
    if (t.syncClientMastered === true || (t.adminRoles?.length ?? 0) > 0)
      return { refused: `${o.label} is mastered by a sync client or holds a directory role` };
    objects.push(t);
  }
  // The objects the edited users' references name in the tenant now (a manager being replaced, or one adsync
  // doesn't own): their changes name them as they are there (`before`).
  const named = new Set<string>();
  for (const t of objects)
    for (const name of REFERENCE_PROPERTIES) {
      const id = t.attrs[name];
      if (typeof id === 'string' && !objects.some((o) => o.id === id)) named.add(id);
    }
  if (named.size > 0) {
    const more = await input.target(new Set(), named);
    for (const t of more?.objects ?? []) if (!objects.some((o) => o.id === t.id)) objects.push(t);
  }

  // 5. The small plan, and the stored plan patched with it.
  const small = planFor({
    spec: input.spec,
    specPath: input.specPath,
    desired,
    target: {
      system: 'entra',
      ...(input.tenant !== undefined ? { tenant: input.tenant } : {}),
      ...(input.directorySync !== undefined ? { directorySync: input.directorySync } : {}),
      objects,
      deleted: [],
      ...(state.adminRolesUnread !== undefined ? { adminRolesUnread: state.adminRolesUnread } : {}),
    },
    toolVersion: input.toolVersion,
    now: input.now,
    ...(input.deleteMark !== undefined ? { deleteMark: input.deleteMark } : {}),
    extensions: input.extensions,
  });
  const patched = patchPlan({
    stored: input.stored,
    storedClock: input.storedClock,
    edited,
    // (an object named only by a reference counts too: a report about it may change how it is named)
    involved: {
      anchors: new Set([...anchors, ...objects.flatMap((o) => (o.anchor !== undefined ? [o.anchor] : []))]),
      dns: new Set(desired.objects.map((o) => o.dn)),
      ids: new Set(objects.map((o) => o.id)),
    },
    small: small.plan,
    smallClock: small.clockWindow,
    extensions: input.extensions,
    now: input.now,
  });
  if ('refused' in patched) return patched;

  // 6. The records to store: the new digests (the shared digests are the same, or the patch was refused).
  const records = new Map<string, StoredRecords>();
  const counts = new Map<string, number>();
  for (const s of input.sources) {
    const index = Buffer.from(s.stored.index);
    for (const i of changed.get(s.source.name)!)
      s.index.digests.copy(index, i * RECORD_ENTRY_BYTES + KEY_BYTES, i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES);
    records.set(s.source.name, { ...s.stored, index });
    counts.set(s.source.name, changed.get(s.source.name)!.length);
  }
  return { plan: patched.plan, clock: patched.clock, edited: counts, records };
}
