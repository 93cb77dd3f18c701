/**
 * Writes the writeback changes of a plan (target `ad`) over LDAP, for the apply loop (src/apply/loop.ts), after
 * the Entra changes and in its order: updates (anchor and attribute writeback, group attributes; never of an
 * object a create of the same plan makes) → creates (written-back groups) → member adds → member removes →
 * deletes. Creates come before memberships so a group can be added to a group created in the same plan.
 *
 * Idempotent on re-runs: a create whose object exists and carries adsync's marker with the change's cloud id,
 * a member already there (or already gone) and a delete of an object that is gone count as done; a create AD
 * refuses because another object holds the DN or the sAMAccountName fails, naming it. Each change is
 * reported through onChange (the journal).
 */
import type { AttributeChange, Change, CreateChange, UpdateChange } from '../../model/change.js';
import { ANCHOR_ATTRIBUTE, DN_ATTRIBUTE, OWNER_ATTRIBUTE } from '../../engine/writeback.js';
import { AdsyncError } from '../../errors.js';
import { deniedAttribute } from '../../spec/writeback-denylist.js';
import type { AttributeWrite, OwnerCheck } from './writer.js';
import type { ApplyOptions } from '../../model/apply.js';
import type { Plan } from '../../model/plan.js';
import type { ApplyReporter, ApplyStep, Target, TargetApply } from '../../model/target.js';

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

/** The step of the apply loop each writeback change is written in (the others are no-ops for AD). */
function stepOf(c: Change): ApplyStep | undefined {
  switch (c.action) {
    case 'restore':
      return 'restore';
    case 'create':
    case 'adopt':
      return 'create';
    case 'update':
      return 'update';
    case 'add-members':
    case 'remove-members':
      return 'members';
    case 'delete':
      return 'delete-groups';
    case 'licenses':
      return undefined; // licences are Entra's (assignLicense); AD has none
    case 'takeover':
    case 'release':
      return undefined; // Entra only: writeback never plans them
  }
}

/**
 * The AD writeback target: one change at a time (width 1), in the apply loop's order, each written through
 * the writer of the change's source forest.
 */
export function adWritebackTarget(ctx: AdApplyContext): Target {
  return {
    system: 'ad',
    capabilities: { width: () => 1 },
    // AD writes are not paced and run one at a time: the plan's options don't apply
    begin(
      _plan: Pick<Plan, 'target' | 'changes'>,
      _options: ApplyOptions,
      report: ApplyReporter,
    ): Promise<TargetApply> {
      return Promise.resolve(beginAdApply(ctx, report));
    },
  };
}

function beginAdApply(ctx: AdApplyContext, report: ApplyReporter): TargetApply {
  const createdIds: Record<string, string> = {};
  const failedCreates = new Set<string>();
  const writers = new Set<AdWriterLike>();
  const finish = report.finish;
  const apply = async (c: Change, step: ApplyStep): Promise<void> => {
    if (c.target !== 'ad') throw new AdsyncError('internal', `the AD writeback target got a ${c.target} change`);
    // deletes of users are written in the same step as the others'
    if (stepOf(c) !== (step === 'delete-users' ? 'delete-groups' : step)) return;
    let operation = `${c.action} ${c.kind} ${c.label}`;
    try {
      if (c.source === undefined) throw new AdsyncError('writeback_no_source', `the change names no source forest`);
      if ((c.action === 'add-members' || c.action === 'update') && failedCreates.has(c.anchor)) {
        report.skip(c, 'its create failed');
        finish(c, 'skipped');
        return;
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
          return;
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
      report.fail(c, operation, err instanceof Error ? err.message : String(err));
      finish(c, 'failed');
    }
  };
  return {
    apply,
    end() {
      let writes = 0;
      for (const w of writers) writes += w.writes;
      return { writes, requests: writes, retries: 0, createdIds };
    },
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
