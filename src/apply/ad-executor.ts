/**
 * Executes the writeback changes of a plan (target `ad`) over LDAP, after the Entra changes:
 *   creates (written-back groups) → updates (anchor and attribute writeback, group attributes)
 *   → member adds → member removes → deletes.
 * Creates come first so a group can be added to a group created in the same plan; deletes come last, as in
 * the Entra executor. The Entra changes go first because nothing in AD feeds them within one plan (writeback
 * values come from the tenant as the plan read it, and anchor writeback does not change the anchor), while a
 * failed AD write must never stop the inbound sync, which is the one that keeps people's accounts right.
 *
 * Idempotent on re-runs: a create whose object exists and carries adsync's marker with the change's cloud id,
 * a member already there (or already gone) and a delete of an object that is gone count as done; a create AD
 * refuses because another object holds the DN or the sAMAccountName fails, naming it. Each change is
 * reported through onChange (the journal).
 */
import type { AttributeChange, Change, CreateChange, UpdateChange } from '../model/change.js';
import { ANCHOR_ATTRIBUTE, DN_ATTRIBUTE, OWNER_ATTRIBUTE } from '../engine/writeback.js';
import { AdsyncError } from '../errors.js';
import { deniedAttribute } from '../spec/writeback-denylist.js';
import type { AttributeWrite, OwnerCheck } from '../connectors/ad/writer.js';
import type { ApplyOptions, ApplyResult, FailedChange, SkippedChange } from './types.js';

/** What the executor needs from AD: one writer per source (forest), opened on first use. */
export interface AdWriterLike {
  add(dn: string, attributes: readonly AttributeWrite[], owner?: OwnerCheck): Promise<'done' | 'already'>;
  modify(dn: string, attributes: readonly AttributeWrite[]): Promise<void>;
  members(dn: string, operation: 'add' | 'delete', memberDns: readonly string[]): Promise<void>;
  delete(dn: string): Promise<'done' | 'already'>;
  readonly writes: number;
}

export interface AdApplyContext {
  writerFor(source: string): Promise<AdWriterLike>;
}

const valuesOf = (a: AttributeChange): string[] =>
  a.after === undefined || a.after === null ? [] : Array.isArray(a.after) ? a.after.map(String) : [String(a.after)];

/** The LDAP writes of an update: the anchor is added (never overwritten), everything else replaced. */
export function attributeWrites(attributes: readonly AttributeChange[]): AttributeWrite[] {
  return attributes
    .filter((a) => a.name !== DN_ATTRIBUTE)
    .map((a) => ({
      name: a.name,
      values: valuesOf(a),
      ...(a.name.toLowerCase() === ANCHOR_ATTRIBUTE.toLowerCase() && a.before === undefined
        ? { mode: 'add' as const }
        : {}),
    }));
}

const PHASE: Record<Change['action'], number> = {
  create: 0,
  adopt: 1,
  takeover: 1,
  release: 1,
  restore: 1,
  update: 1,
  'add-members': 2,
  'remove-members': 3,
  delete: 4,
};

export async function executeAdChanges(
  ctx: AdApplyContext,
  changes: readonly Change[],
  options: ApplyOptions = {},
  progress: { done: number; total: number } = { done: 0, total: changes.length },
): Promise<ApplyResult> {
  const started = Date.now();
  const failed: FailedChange[] = [];
  const skipped: SkippedChange[] = [];
  const createdIds: Record<string, string> = {};
  const failedCreates = new Set<string>();
  const writers = new Set<AdWriterLike>();
  let applied = 0;
  const finish = (change: Change, outcome: 'applied' | 'failed' | 'skipped', id?: string): void => {
    if (outcome === 'applied') applied++;
    progress.done++;
    options.onChange?.(id === undefined ? { change, outcome } : { change, outcome, id });
    options.onProgress?.(progress.done, progress.total);
  };
  const ordered = [...changes].sort((a, b) => PHASE[a.action] - PHASE[b.action]);
  for (const c of ordered) {
    if (options.signal?.aborted === true) break; // interrupted: start no more
    if (c.target !== 'ad') throw new AdsyncError('internal', `executeAdChanges got a ${c.target} change`);
    let operation = `${c.action} ${c.kind} ${c.label}`;
    try {
      if (c.source === undefined) throw new AdsyncError('writeback_no_source', `the change names no source forest`);
      if ((c.action === 'add-members' || c.action === 'update') && failedCreates.has(c.anchor)) {
        skipped.push({ change: c, reason: 'its create failed' });
        finish(c, 'skipped');
        continue;
      }
      if (c.action === 'create' || c.action === 'update') refuseProtected(c);
      const writer = await ctx.writerFor(c.source);
      writers.add(writer);
      switch (c.action) {
        case 'create': {
          const dn = createDn(c);
          operation = `create ${c.kind} ${dn}`;
          await writer.add(dn, attributeWrites(c.attributes), ownerOf(c));
          createdIds[c.anchor] = dn;
          finish(c, 'applied', dn);
          continue;
        }
        case 'update':
          operation = `modify ${c.id} (${c.attributes.map((a) => a.name).join(', ')})`;
          await writer.modify(c.id, attributeWrites(c.attributes));
          break;
        case 'add-members':
        case 'remove-members': {
          const m = c;
          const dn = m.id ?? createdIds[c.anchor];
          if (dn === undefined) throw new AdsyncError('writeback_no_dn', 'the group has no DN');
          operation = `${c.action === 'add-members' ? 'add' : 'remove'} ${m.members.length} member(s) ${c.action === 'add-members' ? 'to' : 'from'} ${dn}`;
          const dns = m.members.map((x) => x.id).filter((x): x is string => x !== undefined);
          await writer.members(dn, c.action === 'add-members' ? 'add' : 'delete', dns);
          break;
        }
        case 'delete':
          operation = `delete ${c.id}`;
          await writer.delete(c.id);
          break;
        default:
          throw new AdsyncError('writeback_unsupported', `${c.action} is not an AD writeback action`);
      }
      finish(c, 'applied');
    } catch (err) {
      if (c.action === 'create') failedCreates.add(c.anchor);
      failed.push({ change: c, operation, message: err instanceof Error ? err.message : String(err) });
      finish(c, 'failed');
    }
  }
  let writes = 0;
  for (const w of writers) writes += w.writes;
  return {
    applied,
    failed,
    skipped,
    writes,
    requests: writes,
    retries: 0,
    durationMs: Date.now() - started,
    createdIds,
  };
}

function createDn(c: CreateChange): string {
  const dn = c.attributes.find((a) => a.name === DN_ATTRIBUTE)?.after;
  if (typeof dn !== 'string' || dn === '')
    throw new AdsyncError('writeback_no_dn', `the create of ${c.label} carries no ${DN_ATTRIBUTE}`);
  return dn;
}

/** What proves an existing object is the one this create made: adsync's marker (or, in older plans, adminDescription). */
function ownerOf(c: CreateChange): OwnerCheck | undefined {
  for (const name of [OWNER_ATTRIBUTE, 'adminDescription']) {
    const v = c.attributes.find((a) => a.name.toLowerCase() === name.toLowerCase())?.after;
    if (typeof v === 'string' && v !== '') return { attribute: name, value: v };
  }
  return undefined;
}

/** What adsync itself writes despite the deny-list: the anchor (anchor rule), and its own groups' type and markers. */
const OWN_WRITES: Record<'anchor' | 'group', ReadonlySet<string>> = {
  anchor: new Set([ANCHOR_ATTRIBUTE.toLowerCase()]),
  group: new Set(['objectclass', 'grouptype', 'admindescription', OWNER_ATTRIBUTE.toLowerCase()]),
};

/**
 * A last line of defence for plans that did not come from this spec's validate (a hand-edited saved plan): a
 * change that writes a never-writable protected attribute is refused before anything is sent.
 */
function refuseProtected(c: CreateChange | UpdateChange): void {
  const rules = c.rule.split(', ');
  for (const a of c.attributes) {
    if (a.name === DN_ATTRIBUTE) continue;
    const deny = deniedAttribute(a.name);
    if (!deny || deny.overridable) continue;
    const own = rules.some(
      (r) =>
        (/\.anchor$/.test(r) && OWN_WRITES.anchor.has(a.name.toLowerCase())) ||
        (/\.group$/.test(r) && OWN_WRITES.group.has(a.name.toLowerCase())),
    );
    if (!own)
      throw new AdsyncError(
        'writeback_protected',
        `refused: ${a.name} is a protected AD attribute writeback never writes (${deny.reason}); the plan was not made by this spec's writeback rules`,
      );
  }
}
