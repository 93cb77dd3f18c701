/**
 * Issue 17: flow value types were never checked. `validate` refuses a flow whose CEL type can't be the Graph
 * property's; a value that turns out wrong for one object (type, documented length, a required value missing)
 * is a report item for that object and flow, and apply writes the others.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GRAPH_PROPERTIES, staticTypeProblem, valueProblem } from '../../src/engine/graph-properties.js';
import { writableProperties } from '../../src/spec/schema.js';
import { FIRST_ADDED_USER_FLOW_LINE as L, quickstart, withFlows, type Quickstart } from '../support/quickstart.js';

describe('Graph property types', () => {
  it('every writable user and group property of the schema has a type', () => {
    for (const kind of ['user', 'group'] as const) {
      assert.deepEqual(
        writableProperties(kind).filter((p) => GRAPH_PROPERTIES[kind][p] === undefined),
        [],
        kind,
      );
    }
  });

  it('values: types, documented lengths, required values', () => {
    const u = GRAPH_PROPERTIES.user;
    assert.equal(
      valueProblem(u.accountEnabled!, 'accountEnabled', 'yes', true),
      `gave the string "yes"; Graph's accountEnabled is true or false`,
    );
    assert.equal(valueProblem(u.accountEnabled!, 'accountEnabled', false, true), undefined);
    assert.equal(valueProblem(u.displayName!, 'displayName', null, true), 'gave no value; Graph requires displayName');
    assert.equal(
      valueProblem(u.displayName!, 'displayName', '', true),
      'gave an empty string; Graph requires displayName',
    );
    assert.equal(valueProblem(u.jobTitle!, 'jobTitle', null, false), undefined);
    assert.equal(valueProblem(u.jobTitle!, 'jobTitle', 'x'.repeat(128), false), undefined);
    assert.equal(
      valueProblem(u.jobTitle!, 'jobTitle', 'x'.repeat(129), false),
      "gave 129 characters; Graph's jobTitle holds at most 128",
    );
    assert.equal(
      valueProblem(u.displayName!, 'displayName', '😀'.repeat(256), true),
      undefined,
      'characters, not UTF-16 units',
    );
    assert.equal(
      valueProblem(u.department!, 'department', 'x'.repeat(65), false),
      "gave 65 characters; Graph's department holds at most 64",
    );
    assert.equal(
      valueProblem(u.mailNickname!, 'mailNickname', 'x'.repeat(65), true),
      "gave 65 characters; Graph's mailNickname holds at most 64",
    );
    assert.equal(valueProblem(u.jobTitle!, 'jobTitle', 7, false), "gave the number 7; Graph's jobTitle is a string");
    assert.equal(
      valueProblem(u.businessPhones!, 'businessPhones', '+1 555', false),
      `gave the string "+1 555"; Graph's businessPhones is a list of strings`,
    );
    assert.equal(
      valueProblem(u.businessPhones!, 'businessPhones', ['+1', 2], false),
      "gave a list holding non-strings; Graph's businessPhones is a list of strings",
    );
    assert.equal(valueProblem(u.employeeHireDate!, 'employeeHireDate', '2024-05-01T00:00:00Z', false), undefined);
    assert.match(valueProblem(u.employeeHireDate!, 'employeeHireDate', '01/05/2024', false) ?? '', /ISO 8601/);
  });

  it('static types', () => {
    const u = GRAPH_PROPERTIES.user;
    assert.equal(
      staticTypeProblem(u.accountEnabled!, 'accountEnabled', 'string', true),
      "gives a string; Graph's accountEnabled is true or false",
    );
    assert.equal(staticTypeProblem(u.accountEnabled!, 'accountEnabled', 'dyn', true), undefined);
    assert.equal(
      staticTypeProblem(u.displayName!, 'displayName', 'null', true),
      'is always null; Graph requires displayName',
    );
    assert.equal(
      staticTypeProblem(u.jobTitle!, 'jobTitle', 'null', false),
      undefined,
      'null clears an optional property',
    );
    assert.equal(staticTypeProblem(u.businessPhones!, 'businessPhones', 'list<string>', false), undefined);
    assert.equal(
      staticTypeProblem(u.businessPhones!, 'businessPhones', 'string', false),
      "gives a string; Graph's businessPhones is a list of strings",
    );
  });
});

describe('flow value types through the CLI (quickstart)', () => {
  let q: Quickstart;
  before(async () => (q = await quickstart()));
  after(async () => q.close());

  it('validate refuses what the expression fixes: a string for a boolean, null for a required property, a number for a string', async () => {
    await q.editSpec(
      withFlows('user', [
        `accountEnabled: '"yes"'`,
        `displayName: 'null'`,
        `jobTitle: '1 + 2'`,
        `businessPhones: '"+1 555 0100"'`,
      ]),
    );
    const r = await q.cli(['validate', '-c', 'SPEC']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.deepEqual(
      r.stderr
        .split('\n')
        .filter((l) => /adsync\.yaml:\d+/.test(l))
        .map((l) => l.replace(/^.*adsync\.yaml:/, '')),
      [
        `${L}:23 objects.user.flows.accountEnabled gives a string; Graph's accountEnabled is true or false`,
        `${L + 1}:20 objects.user.flows.displayName is always null; Graph requires displayName`,
        `${L + 2}:17 objects.user.flows.jobTitle gives a number; Graph's jobTitle is a string`,
        `${L + 3}:23 objects.user.flows.businessPhones gives a string; Graph's businessPhones is a list of strings`,
      ],
    );
  });

  it('plan reports each object whose value Graph would refuse; apply writes the others', async () => {
    // Emma Brown's department, "Human Resources", five times over is 75 characters; the others' fit in 64
    await q.editSpec(
      withFlows('user', [
        `department: 'concat(trim(source.department), trim(source.department), trim(source.department), trim(source.department), trim(source.department))'`,
      ]),
    );
    assert.equal((await q.cli(['validate', '-c', 'SPEC'])).code, 0);
    const plan = await q.plan();
    const reported = plan.reports.filter((r) => r.code === 'flow-error');
    assert.deepEqual(
      reported.map((r) => [r.sourceDn, r.reason]),
      [
        [
          'CN=Emma Brown,OU=Staff,DC=contoso,DC=example',
          "objects.user.flows.department gave 75 characters; Graph's department holds at most 64; the object is left as it is",
        ],
      ],
    );
    const created = plan.changes.filter((c) => c.action === 'create' && c.kind === 'user').map((c) => c.label);
    assert.equal(created.length, 11);
    assert.ok(!created.includes('ebrown@contoso.example'));
    const applied = await q.cli(['apply', '-c', 'SPEC', '--auto-approve']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /0 failed/);
    const tenant = await readFile(join(q.dir, '.adsync', 'tenant.json'), 'utf8');
    assert.ok(!tenant.includes('ebrown@contoso.example'), 'Emma Brown is not written');
    assert.ok(tenant.includes('alee@contoso.example'));
  });

  it('a dynamic value of the wrong type: every object reported, none written', async () => {
    await q.editSpec(withFlows('user', [`accountEnabled: 'source.userAccountControl'`]));
    assert.equal((await q.cli(['validate', '-c', 'SPEC'])).code, 0);
    const plan = await q.plan();
    const reported = plan.reports.filter((r) => r.code === 'flow-error');
    assert.equal(reported.length, 12);
    assert.match(
      reported[0]!.reason,
      /^objects\.user\.flows\.accountEnabled gave the string "51[24]"; Graph's accountEnabled is true or false; the object is left as it is$/,
    );
    assert.equal(plan.changes.filter((c) => c.kind === 'user').length, 0);
  });
});
