/**
 * Who this run is, as the apply lock records it: a run id (what `adsync unlock RUN_ID` names), the host and
 * pid, the command, and where to find the run: the pipeline run's URL on GitHub Actions or Azure Pipelines.
 * Nothing here is secret: no token, no spec value, only the CI's public run coordinates.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { LockHolder } from './backend.js';

const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** One id per process; `$ADSYNC_RUN_ID` (letters, digits, . _ -) sets it, e.g. to the pipeline's run id. */
let processRunId: string | undefined;

export function runId(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['ADSYNC_RUN_ID'];
  if (fromEnv !== undefined && RUN_ID_PATTERN.test(fromEnv)) return fromEnv;
  processRunId ??= randomBytes(4).toString('hex');
  return processRunId;
}

/** The URL of the pipeline run this process belongs to, from the variables the CI sets; undefined elsewhere. */
export function pipelineRunUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const gh = env['GITHUB_RUN_ID'];
  if (gh && env['GITHUB_SERVER_URL'] && env['GITHUB_REPOSITORY']) {
    const attempt = env['GITHUB_RUN_ATTEMPT'];
    return `${env['GITHUB_SERVER_URL']}/${env['GITHUB_REPOSITORY']}/actions/runs/${gh}${attempt ? `/attempts/${attempt}` : ''}`;
  }
  const build = env['BUILD_BUILDID'];
  if (build && env['SYSTEM_COLLECTIONURI'] && env['SYSTEM_TEAMPROJECT']) {
    const base = env['SYSTEM_COLLECTIONURI'].endsWith('/')
      ? env['SYSTEM_COLLECTIONURI']
      : `${env['SYSTEM_COLLECTIONURI']}/`;
    return `${base}${encodeURIComponent(env['SYSTEM_TEAMPROJECT'])}/_build/results?buildId=${build}`;
  }
  return undefined;
}

/** This run as a lock holder (the backend adds `since`). */
export function thisRun(command: string, env: NodeJS.ProcessEnv = process.env): Omit<LockHolder, 'since'> {
  const where = pipelineRunUrl(env);
  return { runId: runId(env), host: hostname(), pid: process.pid, command, ...(where ? { where } : {}) };
}
