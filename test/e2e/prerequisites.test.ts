/**
 * The saved plan says everything apply writes (issue 11): the first plan into a new tenant lists the directory
 * extensions adsync will register before its changes, in every format; apply of that saved plan registers them
 * (and only then writes the objects); the next plan lists none. Through the CLI, on the quickstart.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Plan } from '../../src/model/plan.js';
import { quickstart, type Quickstart } from '../support/quickstart.js';

describe('plan prerequisites: the extensions apply registers are in the plan', () => {
  let q: Quickstart;
  before(async () => {
    q = await quickstart();
  });
  after(async () => q.close());

  it('the first plan lists the anchor and digest extensions in JSON, text and markdown', async () => {
    const plan = await q.plan();
    assert.deepEqual(
      plan.prerequisites?.map((p) => `${p.action} ${p.target} ${p.name}`),
      ['register-extension entra adsyncAnchor', 'register-extension entra adsyncDigest'],
    );
    const text = await q.cli(['plan', '-c', 'SPEC']);
    assert.match(text.stdout, /^ {2}\+ register directory extension adsyncAnchor on adsync's application$/m);
    assert.match(text.stdout, /^ {2}\+ register directory extension adsyncDigest on adsync's application$/m);
    const md = await q.cli(['plan', '-c', 'SPEC', '-f', 'markdown']);
    assert.match(
      md.stdout,
      /\*\*First\*\*, apply registers directory extensions on adsync's application: `adsyncAnchor`/,
    );
  });

  it('apply of the saved plan registers them; the next plan lists none', async () => {
    const out = join(q.dir, 'plan.json');
    const saved = await q.cli(['plan', '-c', 'SPEC', '--out', out]);
    assert.equal(saved.code, 0, saved.stderr);
    const apply = await q.cli(['apply', '-c', 'SPEC', out, '--auto-approve']);
    assert.equal(apply.code, 0, apply.stderr);
    const next: Plan = await q.plan();
    assert.equal(next.prerequisites, undefined);
    assert.deepEqual(next.changes, []);
  });
});
