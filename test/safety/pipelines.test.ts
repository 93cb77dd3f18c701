/**
 * The pipeline examples (issue 6) are validated here: the YAML parses, every `adsync` invocation names an
 * existing command and only flags that command has, the spec each points at validates, and the shape the
 * README promises holds: plan on pull requests with the markdown posted, apply on merge behind an
 * environment approval, workload identity federation and no stored Azure secret.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadSpec } from '../../src/spec/load.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const COMMANDS = fileURLToPath(new URL('../../src/commands/', import.meta.url));

interface FlagDef { char?: string; type: 'boolean' | 'option'; options?: readonly string[] }
interface CommandClass { flags?: Record<string, FlagDef>; baseFlags?: Record<string, FlagDef>; enableJsonFlag?: boolean; args?: Record<string, unknown> }

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
    out.push(m[1]!.trim().split(/\s+/).map((t) => t.replace(/^"|"$/g, '')));
  }
  return out;
}

async function checkInvocations(text: string, where: string): Promise<{ cmd: string; config?: string; flags: Set<string> }[]> {
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
      const name = rawName.startsWith('--') ? rawName.slice(2) : Object.entries(defs).find(([, d]) => d.char === rawName.slice(1))?.[0];
      if (name === 'json' && klass.enableJsonFlag) continue;
      assert.ok(name !== undefined && defs[name], `${where}: adsync ${cmd} has no flag ${rawName}`);
      flags.add(name);
      const def = defs[name]!;
      if (def.type === 'option') {
        const value = inline ?? rest[++i];
        assert.ok(value !== undefined, `${where}: ${rawName} needs a value`);
        if (def.options) assert.ok(def.options.includes(value), `${where}: ${rawName} ${value} is not one of ${def.options.join(', ')}`);
        if (name === 'config') config = value;
      }
    }
    found.push({ cmd: cmd!, flags, ...(config !== undefined ? { config } : {}) });
  }
  return found;
}

async function specIsValid(dir: string, config: string): Promise<void> {
  const spec = await loadSpec(join(dir, config));
  assert.equal(spec.target.entra?.credential.kind, 'workload-identity', `${config}: workload identity, no stored secret`);
  assert.ok(spec.safety.maxDeletePercent !== undefined, 'a pipeline spec sets a percentage guard rail');
}

describe('examples/github-actions', () => {
  const dir = join(EXAMPLES, 'github-actions');
  it('plans on pull requests (markdown comment), applies the reviewed plan on merge behind an environment, with OIDC', async () => {
    const text = await readFile(join(dir, '.github/workflows/adsync.yml'), 'utf8');
    const wf = parse(text) as { on: Record<string, unknown>; permissions: Record<string, string>; concurrency: { 'cancel-in-progress': boolean }; jobs: Record<string, { if?: string; environment?: string; needs?: string; steps: { run?: string; uses?: string; with?: Record<string, string> }[] }> };
    assert.ok(wf.on['pull_request'] && wf.on['push'], 'pull_request and push triggers');
    assert.equal(wf.permissions['id-token'], 'write', 'OIDC for workload identity federation');
    assert.equal(wf.concurrency['cancel-in-progress'], false, 'an apply is never cancelled half-way');
    assert.doesNotMatch(text, /secrets\.AZURE|client[-_]secret/i, 'no stored Azure secret');
    const found = await checkInvocations(strings(wf).join('\n'), 'adsync.yml');
    const plan = found.find((f) => f.cmd === 'plan')!;
    for (const f of ['out', 'format', 'detailed-exitcode', 'log-format']) assert.ok(plan.flags.has(f), `plan --${f}`);
    assert.ok(found.some((f) => f.cmd === 'apply' && !f.flags.has('auto-approve') && !f.flags.has('force')), 'apply takes the saved plan, no --force');
    for (const f of found) if (f.config) await specIsValid(dir, f.config);
    assert.ok(found.some((f) => f.cmd === 'validate'));
    const planJob = wf.jobs['plan']!;
    assert.ok(planJob.steps.some((s) => s.uses?.startsWith('actions/github-script') && /createComment/.test(s.with?.['script'] ?? '')), 'posts the plan as a PR comment');
    assert.ok(planJob.steps.some((s) => /core\.getIDToken\('api:\/\/AzureADTokenExchange'\)/.test(s.with?.['script'] ?? '')), 'federated token from GitHub OIDC');
    const apply = wf.jobs['apply']!;
    assert.equal(apply.environment, 'entra-production', 'apply behind an environment (required reviewers)');
    assert.equal(apply.needs, 'plan');
    assert.match(apply.if ?? '', /github\.event_name == 'push'/);
    assert.ok(apply.steps.some((s) => s.uses?.startsWith('actions/download-artifact')), 'applies the plan the plan job saved');
  });
});

describe('examples/azure-pipelines', () => {
  const dir = join(EXAMPLES, 'azure-pipelines');
  it('plans on pull requests (markdown thread), applies on merge as a deployment to an approved environment, with OIDC', async () => {
    const text = await readFile(join(dir, 'azure-pipelines.yml'), 'utf8');
    const p = parse(text) as { pr: unknown; trigger: unknown; stages: { stage: string; condition?: string; jobs: { deployment?: string; environment?: string }[] }[] };
    assert.ok(p.pr && p.trigger);
    assert.doesNotMatch(text, /AZURE_CLIENT_SECRET|client[-_]secret/i, 'no stored Azure secret');
    assert.match(text, /addSpnToEnvironment: true/);
    assert.match(text, /AZURE_FEDERATED_TOKEN_FILE/);
    assert.match(text, /pullRequests\/\$\(System\.PullRequest\.PullRequestId\)\/threads/, 'posts the plan to the PR');
    const found = await checkInvocations(strings(p).join('\n'), 'azure-pipelines.yml');
    assert.deepEqual([...new Set(found.map((f) => f.cmd))].sort(), ['apply', 'plan', 'validate']);
    for (const f of found) if (f.config) await specIsValid(dir, f.config);
    const apply = p.stages.find((s) => s.stage === 'apply')!;
    assert.match(apply.condition ?? '', /PullRequest/);
    assert.equal(apply.jobs[0]?.deployment, 'apply');
    assert.equal(apply.jobs[0]?.environment, 'entra-production');
  });
});

describe('the invocation checker', () => {
  it('catches a misspelt flag and a command that does not exist', async () => {
    await assert.rejects(checkInvocations('adsync plan -c x.yaml --detailed-exit-code', 't'), /has no flag --detailed-exit-code/);
    await assert.rejects(checkInvocations('adsync deploy -c x.yaml', 't'), /adsync deploy is not a command/);
    await assert.rejects(checkInvocations('adsync plan --format html', 't'), /--format html is not one of/);
  });
});
