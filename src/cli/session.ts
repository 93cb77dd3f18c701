/**
 * The effectful edge of plan and apply: load the spec, open the sources and the target through their
 * connectors, read them concurrently, and hand the snapshots to the pure engine.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve as resolvePath } from 'node:path';
import { AdSource } from '../connectors/ad/index.js';
import { connectEmulator, connectEntra, type EntraTarget } from '../connectors/entra/index.js';
import { LdifSource } from '../connectors/ldif/index.js';
import type { EmulatorProcess } from '../emulator/process.js';
import { buildDesired, readRequestFor, type DesiredState } from '../engine/desired.js';
import { compileFlows, type KindFlows } from '../engine/flows.js';
import { planFor, type PlanOutput } from '../engine/plan.js';
import { AdsyncError, SourceError } from '../errors.js';
import type { SourceConnector, SourceSnapshot } from '../model/entry.js';
import type { ObjectKind, TargetSnapshot } from '../model/target.js';
import { pendingDeleteProperty } from '../engine/safety.js';
import { safetyStage, type SafetyViolation } from '../engine/stages/safety.js';
import type { Plan } from '../model/plan.js';
import type { SourceReadRequest } from '../model/entry.js';
import type { EntraReadRequest } from '../connectors/entra/index.js';
import { loadSpec } from '../spec/load.js';
import { AdWriter } from '../connectors/ad/writer.js';
import {
  collectFacts,
  writebackGraphProperties,
  writebackReadAttributes,
  WRITEBACK_GROUP_ATTRIBUTES,
  type AdFacts,
  type AdGroup,
  type OuName,
} from '../engine/writeback.js';
import { resolveValue } from '../spec/resolve.js';
import { IncrementalReads, type IncrementalOptions } from '../sync/incremental.js';
import type { SourceSpec, Spec } from '../spec/types.js';

export const TOOL_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** A path as the user should read it: relative to the working directory when that is shorter. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export interface Session {
  spec: Spec;
  specPath: string;
  flows: Record<ObjectKind, KindFlows>;
  target: EntraTarget;
  emulator?: EmulatorProcess;
  /**
   * The sources' read, begun as soon as the spec was loaded (taken by the first readAndPlan); undefined when a
   * stored plan may be shown again (planToShow), which then needs no source read.
   */
  prefetched?: Promise<DesiredRead | undefined>;
  /** Incremental reads from the stored state (plan, apply); absent: every read is a full read, nothing stored. */
  incremental?: IncrementalReads;
  /** `adsync plan`: show the stored plan again when nothing changed since (src/sync/plan-memo.ts), and store this one. */
  reusePlan?: boolean;
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Read incrementally from the state backend; `full` reads everything (and stores it). */
  incremental?: IncrementalOptions;
  /** Keep the source snapshots after the desired state is built (explain shows how scope treated an entry). */
  keepSources?: boolean;
  /** `adsync plan`: reuse and store the plan (Session.reusePlan). */
  reusePlan?: boolean;
}

type DesiredRead = { desired: DesiredState; facts: Map<string, AdFacts>; sources?: readonly SourceSnapshot[] };

function openSource(source: SourceSpec, spec: Spec): SourceConnector {
  if (source.ldif) return new LdifSource({ name: source.name, path: resolvePath(spec.dir, source.ldif.path) });
  if (source.ldap) return new AdSource(source, spec.dir);
  throw new AdsyncError('source_kind', `sources.${source.name}: neither ldif nor ldap is set`);
}

export async function openSession(configPath: string, options: SessionOptions = {}): Promise<Session> {
  const spec = await loadSpec(configPath);
  const flows = compileFlows(spec);
  const reusePlan = options.reusePlan === true && planReusable(spec);
  const incremental = options.incremental
    ? IncrementalReads.open(spec, {
        ...options.incremental,
        ...(reusePlan ? { plan: { specPath: displayPath(spec.file), toolVersion: TOOL_VERSION } } : {}),
      })
    : undefined;
  // The sources are read while the target starts and connects: two directories, two cores. With a stored plan
  // that may be shown again, only once it can't (its check reads no snapshot).
  const read = (): Promise<DesiredRead> => readDesired(spec, flows, options.keepSources === true, incremental);
  const prefetched =
    reusePlan && incremental !== undefined
      ? incremental
          .candidate(sourceRequests(spec, flows), displayPath(spec.file), TOOL_VERSION)
          .then((memo) => (memo === undefined ? read() : undefined))
      : read();
  prefetched.catch(() => undefined); // awaited by readAndPlan; a failure surfaces there
  let emulator: EmulatorProcess | undefined;
  let target: EntraTarget;
  if (spec.target.emulator) {
    // Loaded only for a spec that runs one: the emulator (its TLS certificate library) is half of adsync's
    // start-up, which a pipeline's plan against a real tenant should not pay.
    const [{ startEmulatorProcess }, { loadFixtures }] = await Promise.all([
      import('../emulator/process.js'),
      import('../emulator/fixture.js'),
    ]);
    const e = spec.target.emulator;
    const statePath = resolvePath(spec.dir, e.state);
    await mkdir(dirname(statePath), { recursive: true });
    const fixture =
      e.fixtures && e.fixtures.length > 0
        ? await loadFixtures(e.fixtures.map((f) => resolvePath(spec.dir, f)))
        : undefined;
    emulator = await startEmulatorProcess({
      statePath,
      initialDomain: e.tenant,
      domains: e.domains,
      ...(fixture ? { fixture } : {}),
    });
    try {
      target = await connectEmulator(emulator);
    } catch (err) {
      await emulator.close();
      throw err;
    }
  } else if (spec.target.entra) {
    target = await connectEntra(spec.target.entra, spec.dir);
  } else {
    throw new AdsyncError('target_missing', 'the spec has no target', {
      hint: 'set target.entra (or target.emulator for a local tenant)',
    });
  }
  return {
    spec,
    specPath: displayPath(spec.file),
    flows,
    target,
    ...(emulator ? { emulator } : {}),
    prefetched,
    ...(incremental ? { incremental } : {}),
    ...(reusePlan && incremental !== undefined ? { reusePlan } : {}),
    async close() {
      // The benchmark counts adsync's Graph requests per run (bench/run.ts).
      if (process.env['ADSYNC_BENCH_RUSAGE']) process.stderr.write(`ADSYNC_GRAPH_REQUESTS ${target.stats.requests}\n`);
      // Both must close even when one fails, or the process would hang on an open server.
      const results = await Promise.allSettled([target.close(), emulator?.close()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

/**
 * Runs `body` with an open session and always closes it; an error from the body wins over one from closing.
 */
export async function withSession<T>(
  configPath: string,
  body: (session: Session) => Promise<T>,
  options: SessionOptions = {},
): Promise<T> {
  const session = await openSession(configPath, options);
  let result: T;
  try {
    result = await body(session);
  } catch (err) {
    await session.close().catch(() => undefined);
    throw err;
  }
  await session.close();
  return result;
}

/** What the target is read with: the flows' properties, writeback's, and the disable-first mark once it exists. */
function targetRequestOf(session: Session): { request: EntraReadRequest; mark: string | undefined } {
  const { spec, flows } = session;
  const userProperties = flows.user.flows.map((f) => f.attribute);
  const groupProperties = flows.group.flows.map((f) => f.attribute);
  // Writeback reads the tenant as its source: the properties its filters and flows use are read too.
  const wbProps = writebackGraphProperties(spec.writeback);
  for (const p of wbProps.user) if (!userProperties.includes(p)) userProperties.push(p);
  for (const p of wbProps.group) if (!groupProperties.includes(p)) groupProperties.push(p);
  // The disable-first mark is read only once its extension exists (Graph refuses to $select an unknown one).
  const mark = pendingDeleteProperty(session.target.anchorProperty);
  if (spec.safety.deleteMode === 'disable-first' && mark !== undefined && session.target.extensions.has(mark)) {
    userProperties.push(mark);
    groupProperties.push(mark);
  }
  const request: EntraReadRequest = {
    userProperties,
    groupProperties,
    readMembers: true,
    requireAdminRoles: spec.matching.softMatch !== 'off',
    ...(spec.licenses ? { readLicenses: true } : {}),
  };
  return { request, mark };
}

/**
 * Whether a stored plan can stand for a new one (src/sync/plan-memo.ts): only when every input can be told
 * unchanged without reading it — LDIF sources (their digest), AD sources (their DC asked whether anything changed
 * since the stored state), and a target read through delta (licence rules read it in full; writeback reads AD's
 * groups).
 */
function planReusable(spec: Spec): boolean {
  return (
    spec.writeback.length === 0 &&
    !spec.licenses &&
    spec.sources.every((s) => s.ldif !== undefined || s.ldap !== undefined)
  );
}

/** A plan to show, and what the renderers show with it. */
export interface ShownPlan {
  plan: Plan;
  violations: readonly SafetyViolation[];
  /** Scope warnings (names the scope gives that match nothing). */
  warnings: readonly string[];
  /** Directory role holders by target id (the markdown renderer names them). */
  admins: ReadonlyMap<string, readonly string[]>;
}

function adminsOf(target: TargetSnapshot): Map<string, readonly string[]> {
  const admins = new Map<string, readonly string[]>();
  for (const o of target.objects)
    if (o.adminRoles !== undefined && o.adminRoles.length > 0) admins.set(o.id, o.adminRoles);
  return admins;
}

/**
 * `adsync plan`: the stored plan again when the session may reuse it and nothing it was made from changed
 * (no snapshot read, no planning; the plan says so in its `read`), else readAndPlan (which stores the plan).
 */
export async function planToShow(session: Session, now: Date = new Date()): Promise<ShownPlan> {
  const { spec, incremental } = session;
  if (session.reusePlan === true && incremental !== undefined) {
    const memo = await incremental.candidate(sourceRequests(spec, session.flows), session.specPath, TOOL_VERSION);
    const { request, mark } = targetRequestOf(session);
    const hit =
      memo &&
      (await incremental.reuse(memo, spec.sources, session.target, request, now, {
        flows: session.flows,
        requests: sourceRequests(spec, session.flows),
        deleteMark: mark,
      }));
    if (hit) {
      delete session.prefetched;
      // The stored plan, made anew now: `createdAt` keeps its place among the keys (output stays byte-identical).
      const made: Plan = { ...hit.plan, createdAt: now.toISOString() };
      return {
        plan: { ...made, read: incremental.info() },
        violations: safetyStage(made, spec.safety, hit.managedMembers),
        warnings: hit.warnings,
        admins: new Map(hit.admins),
      };
    }
  }
  const out = await readAndPlan(session, now);
  return {
    plan: out.plan,
    violations: out.violations,
    warnings: out.desired.warnings ?? [],
    admins: adminsOf(out.targetSnapshot),
  };
}

/**
 * Reads every source and the target (concurrently) and hands the snapshots to planFor() (source snapshots are
 * dropped as soon as the desired state is built, so a forest's raw entries don't live through the diff, unless
 * the session keeps them: explain shows how scope treated the raw entry).
 */
export async function readAndPlan(
  session: Session,
  now: Date = new Date(),
  options: { recordMatches?: boolean } = {},
): Promise<PlanOutput & { targetSnapshot: TargetSnapshot; sources?: readonly SourceSnapshot[] }> {
  const { spec, flows } = session;
  const { request: targetRequest, mark } = targetRequestOf(session);
  const incremental = session.incremental;
  const readTarget = incremental
    ? incremental.readTarget(session.target, targetRequest)
    : session.target.read(targetRequest);
  readTarget.catch(() => undefined); // awaited below; don't let a failure go unhandled while sources are read
  const readGroups = spec.writeback.length > 0 ? readWritebackGroups(spec) : undefined;
  readGroups?.catch(() => undefined);
  const prefetched = session.prefetched;
  delete session.prefetched; // a second plan in the same session reads the sources again
  const { desired, facts, sources } = (await prefetched) ?? (await readDesired(spec, flows, false, incremental));
  const targetSnapshot = await readTarget;
  const out = planFor({
    spec,
    specPath: session.specPath,
    desired,
    target: targetSnapshot,
    toolVersion: TOOL_VERSION,
    now,
    ...(mark !== undefined ? { deleteMark: mark } : {}),
    ...(readGroups ? { writeback: { facts, groups: await readGroups } } : {}),
    recordMatches: options.recordMatches === true,
    extensions: session.target.extensions,
  });
  // The plan says how its inputs were read; the state is stored once the plan stands (and the plan, for the
  // next `adsync plan` to show again when nothing changes).
  if (incremental) {
    await incremental.save();
    if (session.reusePlan === true && planReusable(spec) && options.recordMatches !== true)
      await incremental.remember(out, session.specPath, TOOL_VERSION, {
        warnings: out.desired.warnings ?? [],
        admins: adminsOf(targetSnapshot),
      });
    out.plan = { ...out.plan, read: incremental.info() };
  }
  return { ...out, targetSnapshot, ...(sources ? { sources } : {}) };
}

/** What each source is read with: the flows' attributes, and writeback's. */
function sourceRequest(spec: Spec, flows: Record<ObjectKind, KindFlows>, source: SourceSpec): SourceReadRequest {
  const request = readRequestFor(source, flows);
  const extra = writebackReadAttributes(spec.writeback, source.name);
  return extra.length === 0
    ? request
    : { ...request, attributes: [...new Set([...request.attributes, ...extra])].sort() };
}

function sourceRequests(
  spec: Spec,
  flows: Record<ObjectKind, KindFlows>,
): { source: SourceSpec; request: SourceReadRequest }[] {
  return spec.sources.map((source) => ({ source, request: sourceRequest(spec, flows, source) }));
}

async function readDesired(
  spec: Spec,
  flows: Record<ObjectKind, KindFlows>,
  keepSources = false,
  incremental?: IncrementalReads,
): Promise<DesiredRead> {
  const facts = new Map<string, AdFacts>();
  // (group rules need no facts: their members map through the desired state's DNs)
  const writtenTo = new Set(spec.writeback.filter((r) => r.rule !== 'group').map((r) => r.source));
  const snapshots = await Promise.all(
    spec.sources.map(async (source) => {
      const connector = openSource(source, spec);
      try {
        const full = sourceRequest(spec, flows, source);
        return await (incremental ? incremental.readSource(source, connector, full) : connector.read(full));
      } finally {
        await connector.close();
      }
    }),
  );
  // What writeback needs to know of the AD objects (anchors, written-back attributes), before the snapshots go.
  for (const snapshot of snapshots) {
    const source = spec.sources.find((s) => s.name === snapshot.source);
    if (source && writtenTo.has(source.name))
      collectFacts(snapshot, source, writebackReadAttributes(spec.writeback, source.name), facts);
  }
  const desired = buildDesired(spec, snapshots, flows);
  incremental?.noteDesired(desired, snapshots);
  if (!spec.safety.allowEmptySource)
    refuseEmptySources(
      spec,
      snapshots.map((s) => ({ name: s.source, entries: s.entries.length })),
      desired,
    );
  return { desired, facts, ...(keepSources ? { sources: snapshots } : {}) };
}

/**
 * A source that yields no object in scope would have the plan delete everything adsync manages from it: a
 * 0-byte export, a search base that names an empty OU, a scope filter that matches nothing. Stop instead,
 * unless the spec says an empty source is expected (safety.allowEmptySource).
 */
function refuseEmptySources(spec: Spec, read: { name: string; entries: number }[], desired: DesiredState): void {
  const inScope = new Map<string, number>();
  for (const o of desired.objects) inScope.set(o.source, (inScope.get(o.source) ?? 0) + 1);
  for (const { name, entries } of read) {
    if ((inScope.get(name) ?? 0) > 0) continue;
    const source = spec.sources.find((s) => s.name === name);
    const what = source?.ldif ? `the LDIF export ${source.ldif.path}` : 'the LDAP read';
    const why =
      entries === 0 ? `${what} returned no objects` : `none of the ${entries} objects ${what} returned is in scope`;
    throw new SourceError(
      'source_empty',
      `source ${name}: ${why}; planning now would delete every object adsync manages from it`,
      {
        hint: 'check the export, the search base (scope.ous, ldap.baseDn) and the scope filter; if the source is meant to be empty, set safety.allowEmptySource: true',
      },
    );
  }
}

/** The OU of a group writeback rule, resolved (it may come from the environment). */
export function writebackOu(spec: Spec, index: number): string {
  const rule = spec.writeback.find((r) => r.index === index);
  if (!rule || rule.rule !== 'group')
    throw new AdsyncError('writeback_rule', `writeback[${index}] is not a group rule`);
  return resolveValue(rule.ou, `writeback[${index}].group.ou`);
}

/** Each group rule's OU and the written-back groups in it (adminDescription=Group_*). */
async function readWritebackGroups(
  spec: Spec,
): Promise<Map<number, { ou: string; existing: AdGroup[]; names: OuName[] }>> {
  const out = new Map<number, { ou: string; existing: AdGroup[]; names: OuName[] }>();
  await Promise.all(
    spec.writeback.map(async (rule) => {
      if (rule.rule !== 'group') return;
      const source = spec.sources.find((s) => s.name === rule.source);
      if (!source)
        throw new AdsyncError(
          'writeback_source',
          `writeback[${rule.index}].group.source: no source named ${rule.source}`,
        );
      const ou = writebackOu(spec, rule.index);
      const attributes = [
        ...new Set([...WRITEBACK_GROUP_ATTRIBUTES, ...Object.keys(rule.flows)].map((a) => a.toLowerCase())),
      ];
      const { groups: entries, names } = await AdWriter.readWritebackGroups(
        source,
        spec.dir,
        ou,
        attributes,
        `writeback[${rule.index}].group.ou`,
      );
      const existing: AdGroup[] = entries.map((e) => ({
        ...(e.unread?.['member'] !== undefined ? { membersUnread: true as const } : {}),
        dn: e.dn,
        attrs: Object.fromEntries(
          Object.entries(e.attrs)
            .filter(([k]) => attributes.includes(k))
            .map(([k, v]) => [k, v.map((x) => (typeof x === 'string' ? x : Buffer.from(x).toString('utf8')))]),
        ),
      }));
      out.set(rule.index, { ou, existing, names });
    }),
  );
  return out;
}

/** Opens AD writers per source on first use (for apply's writeback changes); close() closes them all. */
export function adWriters(spec: Spec): { writerFor(source: string): Promise<AdWriter>; close(): Promise<void> } {
  const open = new Map<string, Promise<AdWriter>>();
  return {
    writerFor(name: string): Promise<AdWriter> {
      let w = open.get(name);
      if (!w) {
        const source = spec.sources.find((s) => s.name === name);
        if (!source)
          return Promise.reject(
            new AdsyncError('writeback_source', `the plan writes to source ${name}, which the spec does not have`),
          );
        w = AdWriter.open(source, spec.dir);
        open.set(name, w);
      }
      return w;
    },
    async close(): Promise<void> {
      await Promise.allSettled([...open.values()].map(async (w) => (await w).close()));
    },
  };
}
