/**
 * Issue 17: an expression can hang the tool. Evaluation has a budget of steps and of data built, so a blow-up
 * is a `validate` problem when it shows on any object, and a per-object report item when it depends on the data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkExpression, compileExpression, EXPRESSION_LIMITS, type FlowContext } from '../../src/engine/expr.js';
import { FIRST_ADDED_USER_FLOW_LINE, quickstart, withFlows, type Quickstart } from '../support/quickstart.js';

/** Doubles the common name 30 times: a billion characters from a 500-character expression. */
const DOUBLING = `cel.bind(a, source.cn, ${'cel.bind(a, a + a, '.repeat(30)}a${')'.repeat(30)})`;
/** |members|^12 list elements: fine on one member, a hang on four. */
const NESTED_MEMBERS = `string(size(${Array.from({ length: 12 }, (_, i) => `sourceAll.member.map(m${i}, `).join('')}1${')'.repeat(12)}))`;
/** Bounded memory: a blow-up would crash the child on this heap. */
const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=192' };

const ctx = (attrs: Record<string, string[]>): FlowContext => ({
  attrs,
  source: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, v[0] ?? null])),
  sourceAll: attrs,
  anchor: 'AA==',
  dn: 'CN=x',
  domain: 'contoso.example',
  mailEnabled: false,
});

describe('expression budgets', () => {
  it('a doubling expression stops at the data budget, whatever the data', () => {
    const f = compileExpression(DOUBLING);
    assert.throws(() => f(ctx({ cn: ['ab'] })), {
      name: 'ExpressionBudgetError',
      message: new RegExp(`more than ${EXPRESSION_LIMITS.maxUnits} characters`),
    });
    assert.match(checkExpression(DOUBLING) ?? '', /evaluation budget exceeded: .* on a sample object/);
  });

  it('nested macros stop at the step budget; the same expression on small data is fine', () => {
    const f = compileExpression(NESTED_MEMBERS);
    assert.equal(f(ctx({ member: ['a'] })), '1');
    assert.throws(() => f(ctx({ member: ['a', 'b', 'c', 'd'] })), {
      name: 'ExpressionBudgetError',
      message: /more than 100000 steps/,
    });
    assert.equal(checkExpression(NESTED_MEMBERS), undefined);
  });

  it('an error swallowed inside CEL (`true || error`) still ends the evaluation', () => {
    const f = compileExpression(`${DOUBLING} == "" || true`);
    assert.throws(() => f(ctx({ cn: ['ab'] })), { name: 'ExpressionBudgetError' });
  });

  it('a budget is per evaluation: the next object starts afresh', () => {
    const f = compileExpression(NESTED_MEMBERS);
    assert.throws(() => f(ctx({ member: ['a', 'b', 'c', 'd'] })));
    assert.equal(f(ctx({ member: ['a', 'b'] })), '2');
  });

  it('over-long expressions are refused', () => {
    assert.match(
      checkExpression(`"${'x'.repeat(EXPRESSION_LIMITS.maxLength)}"`) ?? '',
      /characters long; at most 4096/,
    );
  });
});

describe('expression budgets through the CLI (quickstart)', () => {
  let q: Quickstart;
  before(async () => (q = await quickstart()));
  after(async () => q.close());

  it('validate rejects a blow-up that shows on any object, at its line', async () => {
    await q.editSpec(withFlows('user', [`displayName: '${DOUBLING}'`]));
    const r = await q.cli(['validate', '-c', 'SPEC'], SMALL_HEAP);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `adsync\\.yaml:${FIRST_ADDED_USER_FLOW_LINE}:20 objects\\.user\\.flows\\.displayName is not a valid CEL expression: evaluation budget exceeded: the expression built more than 16777216 characters or elements on a sample object`,
      ),
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('plan reports each object whose data makes the flow blow up, and writes nothing for it', async () => {
    await q.editSpec(withFlows('group', [`description: '${NESTED_MEMBERS}'`]));
    const v = await q.cli(['validate', '-c', 'SPEC']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const plan = await q.plan();
    const budget = plan.reports.filter((r) => r.code === 'flow-error');
    // Engineering (4 members), All Staff, Contractors: every group with more than one member
    assert.deepEqual(budget.map((r) => r.label).sort(), [
      'CN=All Staff,OU=Groups,DC=contoso,DC=example',
      'CN=Contractors,OU=Groups,DC=contoso,DC=example',
      'CN=Engineering,OU=Groups,DC=contoso,DC=example',
    ]);
    for (const r of budget)
      assert.match(
        r.reason,
        /^objects\.group\.flows\.description failed: evaluation budget exceeded: more than 100000 steps; the object is left as it is$/,
      );
    assert.deepEqual(
      plan.changes.filter((c) => c.kind === 'group' && c.action === 'create').map((c) => c.label),
      [],
    );
    assert.equal(
      plan.changes.filter((c) => c.kind === 'user' && c.action === 'create').length,
      12,
      'the users are unaffected',
    );
    const text = await q.cli(['plan', '-c', 'SPEC'], SMALL_HEAP);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /Engineering,OU=Groups,DC=contoso,DC=example\n\s+# flow-error: objects\.group\.flows\.description failed: evaluation budget exceeded/,
    );
  });
});
