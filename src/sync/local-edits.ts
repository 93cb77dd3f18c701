/**
 * The stored plan, patched for local edits (issue 15; the engine's half is ../engine/local-edits.ts).
 *
 * When the spec, adsync and the tenant are what the stored plan was made from and an LDIF export changed only
 * inside some records (the same records, keys and order: ../connectors/ldif/records.ts), the edited records are
 * read alone, with the records of the managers they name, the desired objects are built from them, and each
 * edited user must be the same as before in everything but its local properties (its shared digest, stored
 * per record by the last full plan). The edited users, their managers and their objects in the tenant (from the
 * stored target state) are then planned as a small plan, and its changes for the edited users replace theirs in
 * the stored plan. Anything else — a record added, removed, renamed or reordered; a group, contact or OU edited;
 * an edited user new, gone, held, reported about or not yet in the tenant; too many edits — refuses, with the
 * reason, and the caller plans in full.
 */
import { buildDesired } from '../engine/desired.js';
import type { KindFlows } from '../engine/flows.js';
import { patchPlan, sharedDigest, SHARED_DIGEST_BYTES } from '../engine/local-edits.js';
import { planFor } from '../engine/plan.js';
import type { ClockWindow } from '../engine/safety.js';
import { LdifSource } from '../connectors/ldif/index.js';
import { DIGEST_BYTES, KEY_BYTES, readSpans, type LdifRecordIndex } from '../connectors/ldif/records.js';
import type { SourceReadRequest, SourceSnapshot } from '../model/entry.js';
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
  /** The stored target's live objects with these anchors (its links found no change since the stored plan). */
  target: (anchors: ReadonlySet<string>) => Promise<{ objects: TargetObject[]; adminRolesUnread?: string } | undefined>;
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
  const editedDns = new Map<string, { source: string; ordinal: number }>();
  for (const s of input.sources) {
    const edits = changed.get(s.source.name)!;
    const reader = new LdifSource({ name: s.source.name, path: s.path });
    const span = (i: number): [number, number] => [s.index.spans![2 * i]!, s.index.spans![2 * i + 1]!];
    const first = reader.readRecords(s.request, await readSpans(s.path, edits.map(span)), s.stored.namingContexts);
    // Which edited record each entry is (a record outside the search bases is no entry: nothing to plan).
    const editAt = new Map(edits.map((i) => [dnOf(s.index.dnLines![i]!), i] as const));
    for (const e of first.entries) {
      const i = editAt.get(e.dn);
      if (i === undefined) return { refused: `an edited record's DN can't be told from its dn line (${e.dn})` };
      editedDns.set(e.dn, { source: s.source.name, ordinal: i });
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
  // 3. The desired objects: every edited one a user, the same but for its local properties.
  const desired = buildDesired(input.spec, snapshots, input.flows);
  const edited = new Set<string>();
  for (const [dn, where] of editedDns) {
    const obj = desired.objects.find((o) => o.dn === dn && o.source === where.source);
    if (obj === undefined) return { refused: `an edited object left the scope or is not a user (${dn})` };
    const before = at(
      input.sources.find((s) => s.source.name === where.source)!.stored.index,
      where.ordinal,
      KEY_BYTES + DIGEST_BYTES,
      SHARED_DIGEST_BYTES,
    );
    const now = sharedDigest(obj);
    if (now === undefined || before.every((b) => b === 0) || !now.equals(before))
      return { refused: `an edit to ${obj.label} changes more than its own properties` };
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
    involved: {
      anchors,
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
