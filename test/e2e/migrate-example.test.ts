/**
 * The README runbook "Moving from Entra Connect" runs as written against examples/migrate-from-entra-connect
 * (copied to a temporary directory, so the example's tenant state is never written in the repository), and the
 * example's generated files are what test/support/connect-tenant.ts generates.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Plan } from '../../src/model/plan.js';
import { runCli } from '../support/cli.js';
import { generateConnectTenant } from '../support/connect-tenant.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'migrate-from-entra-connect');

/** The commands of the runbook's sh block, in order. */
async function runbook(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('### Runbook');
  assert.ok(at > 0, 'README has the runbook');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('npx adsync '));
}

describe('the README runbook for moving from Entra Connect', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-runbook-'));
    await cp(EXAMPLE, join(dir, 'examples', 'migrate-from-entra-connect'), {
      recursive: true,
      filter: (src) => !src.includes('.adsync'),
    });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("the example's tenant and forest are the generator's output", async () => {
    const g = generateConnectTenant({ users: 200, groups: 20 });
    assert.equal(await readFile(join(EXAMPLE, 'corp.ldif'), 'utf8'), g.ldif);
    assert.equal(await readFile(join(EXAMPLE, 'tenant.yaml'), 'utf8'), g.fixture);
  });

  it('every command runs as written, and each step does what the runbook says', async () => {
    const commands = await runbook();
    assert.equal(commands.length, 7);
    const out: string[] = [];
    for (const line of commands) {
      const args = line.replace(/^npx adsync /, '').split(/\s+/);
      const r = await runCli(args, { cwd: dir, timeoutMs: 180_000 });
      assert.equal(r.code, 0, `${line}\n${r.stdout}\n${r.stderr}`);
      out.push(r.stdout);
    }
    assert.match(out[0]!, /adsync's anchor equals Entra Connect's sourceAnchor for the 200 user\(s\)/);
    assert.match(out[0]!, /0 error\(s\)/);
    const wave = JSON.parse(await readFile(join(dir, 'wave1.json'), 'utf8')) as Plan;
    assert.equal(wave.summary.takeover, 21);
    assert.ok(wave.reports.some((x) => x.code === 'takeover-admin'));
    assert.match(out[2]!, /Take over from the sync client/);
    assert.match(out[3]!, /Apply complete: 25 change\(s\) applied, 0 failed/);
    assert.match(out[4]!, /No changes\./);
    const back = JSON.parse(await readFile(join(dir, 'back.json'), 'utf8')) as Plan;
    assert.equal(back.summary.release, 21);
    assert.match(out[5]!, /before the next sync cycle: turn blockCloudObjectTakeoverThroughHardMatchEnabled off/);
    assert.match(out[6]!, /Apply complete: 21 change\(s\) applied, 0 failed/);
  });
});
