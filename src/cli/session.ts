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
import { startEmulator, type RunningEmulator } from '../emulator/index.js';
import { buildDesired, readRequestFor, type DesiredState } from '../engine/desired.js';
import { compileFlows, type KindFlows } from '../engine/flows.js';
import { planFromDesired, type PlanOutput } from '../engine/plan.js';
import { AdsyncError } from '../errors.js';
import type { SourceConnector } from '../model/entry.js';
import type { ObjectKind, TargetSnapshot } from '../model/target.js';
import { applyDeleteMode, pendingDeleteProperty } from '../engine/safety.js';
import { loadSpec } from '../spec/load.js';
import { attachObserved } from './saved-plan.js';
import type { SourceSpec, Spec } from '../spec/types.js';

export const TOOL_VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

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
  emulator?: RunningEmulator;
  close(): Promise<void>;
}

function openSource(source: SourceSpec, spec: Spec): SourceConnector {
  if (source.ldif) return new LdifSource({ name: source.name, path: resolvePath(spec.dir, source.ldif.path) });
  if (source.ldap) return new AdSource(source, spec.dir);
  throw new AdsyncError('source_kind', `sources.${source.name}: neither ldif nor ldap is set`);
}

export async function openSession(configPath: string): Promise<Session> {
  const spec = await loadSpec(configPath);
  const flows = compileFlows(spec);
  let emulator: RunningEmulator | undefined;
  let target: EntraTarget;
  if (spec.target.emulator) {
    const e = spec.target.emulator;
    const statePath = resolvePath(spec.dir, e.state);
    await mkdir(dirname(statePath), { recursive: true });
    emulator = await startEmulator({ statePath, initialDomain: e.tenant, domains: e.domains });
    try {
      target = await connectEmulator(emulator);
    } catch (err) {
      await emulator.close();
      throw err;
    }
  } else if (spec.target.entra) {
    target = await connectEntra(spec.target.entra, spec.dir);
  } else {
    throw new AdsyncError('target_missing', 'the spec has no target', { hint: 'set target.entra (or target.emulator for a local tenant)' });
  }
  return {
    spec,
    specPath: displayPath(spec.file),
    flows,
    target,
    ...(emulator ? { emulator } : {}),
    async close() {
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
export async function withSession<T>(configPath: string, body: (session: Session) => Promise<T>): Promise<T> {
  const session = await openSession(configPath);
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

/**
 * Reads every source and the target (concurrently) and assembles the plan. Source snapshots are dropped
 * as soon as the desired state is built, so a whole forest's raw entries don't live through the diff.
 */
/**
 * Reads every source and the target (concurrently) and assembles the plan: deletes rewritten for
 * `safety.deleteMode`, and every change stamped with the digest of the object it touches (saved plans).
 */
export async function readAndPlan(session: Session, now: Date = new Date()): Promise<PlanOutput & { targetSnapshot: TargetSnapshot }> {
  const { spec, flows } = session;
  const userProperties = flows.user.flows.map((f) => f.attribute);
  const groupProperties = flows.group.flows.map((f) => f.attribute);
  // The disable-first mark is read only once its extension exists (Graph refuses to $select an unknown one).
  const mark = pendingDeleteProperty(session.target.anchorProperty);
  if (spec.safety.deleteMode === 'disable-first' && mark !== undefined && session.target.extensions.has(mark)) {
    userProperties.push(mark);
    groupProperties.push(mark);
  }
  const readTarget = session.target.read({ userProperties, groupProperties, readMembers: true });
  readTarget.catch(() => undefined); // awaited below; don't let a failure go unhandled while sources are read
  const desired = await readDesired(spec, flows);
  const targetSnapshot = await readTarget;
  const out = planFromDesired({ spec, specPath: session.specPath, desired, target: targetSnapshot, toolVersion: TOOL_VERSION, now });
  const plan = attachObserved(applyDeleteMode(out.plan, targetSnapshot, spec.safety, mark, now), targetSnapshot);
  return { ...out, plan, targetSnapshot };
}

async function readDesired(spec: Spec, flows: Record<ObjectKind, KindFlows>): Promise<DesiredState> {
  const snapshots = await Promise.all(
    spec.sources.map(async (source) => {
      const connector = openSource(source, spec);
      try {
        return await connector.read(readRequestFor(source, flows));
      } finally {
        await connector.close();
      }
    }),
  );
  return buildDesired(spec, snapshots, flows);
}
