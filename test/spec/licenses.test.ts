/** `licenses:` in the spec: normalized with defaults, and every mistake one FILE:LINE:COL line with a hint. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSpecText, parseSpec } from '../../src/spec/load.js';

const HEAD = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
target:
  emulator: { state: ./state.json }
`;

function problems(text: string): string[] {
  return checkSpecText(text, 'spec.yaml').problems.map((p) => `${p.line}:${p.col} ${p.message}`);
}

test('a licence rule normalizes with its defaults (keep, keep, not owned, fail)', () => {
  const spec = parseSpec(
    `${HEAD}licenses:
  - sku: SPE_E3
    when: source.department == "Sales"
  - sku: EMS
    memberOf: CN=Mobile,OU=Groups,DC=corp,DC=example
    disabledPlans: [INTUNE_A]
    onDisable: remove
    onLeave: remove
    owned: true
    overCapacity: report
`,
    'adsync.yaml',
  );
  assert.deepEqual(spec.licenses, [
    {
      index: 0,
      sku: 'SPE_E3',
      disabledPlans: [],
      when: 'source.department == "Sales"',
      onDisable: 'keep',
      onLeave: 'keep',
      owned: false,
      overCapacity: 'fail',
    },
    {
      index: 1,
      sku: 'EMS',
      disabledPlans: ['INTUNE_A'],
      memberOf: 'CN=Mobile,OU=Groups,DC=corp,DC=example',
      onDisable: 'remove',
      onLeave: 'remove',
      owned: true,
      overCapacity: 'report',
    },
  ]);
  assert.equal(spec.safety.maxLicenseRemovals, undefined); // checkSafety applies the default (100)
});

test('no licenses: section leaves licences alone (no key in the spec)', () => {
  assert.equal(parseSpec(HEAD, 'adsync.yaml').licenses, undefined);
});

test('bad licence rules: each one line at its position, with what to do', () => {
  const text = `${HEAD}licenses:
  - sku: SPE_E3
    when: source.department ==
  - sku: EMS
    when: "'yes'"
  - sku: spe_e3
    memberOf: not a dn
  - sku: VISIO
    onLeave: remove
  - sku: PROJECT
  - sku: EXCHANGESTANDARD
    when: "true"
    onDisable: delete
    ownd: true
`;
  const got = problems(text);
  const expect = [
    /^9:11 licenses\[0\]\.when is not a valid CEL expression: /,
    /^11:11 licenses\[1\]\.when gives a string; it must give a bool/,
    /^12:10 licenses\[2\]\.sku: spe_e3 is assigned by licenses\[0\] already; merge the two rules/,
    /^13:15 licenses\[2\]\.memberOf is not a valid DN: .*\(e\.g\. CN=/,
    /^15:14 licenses\[3\]\.onLeave: remove needs owned: true .*add owned: true or use onLeave: keep$/,
    /^14:5 licenses\[3\]: a licence rule selects its users with `when` .* or `memberOf`/,
    /^16:5 licenses\[4\]: a licence rule selects/,
    /^19:16 licenses\[5\]\.onDisable must be one of keep, remove/,
    /^20:5 unknown key 'ownd' in licenses\[5\]; did you mean 'owned'\?/,
  ];
  for (const re of expect)
    assert.ok(
      got.some((l) => re.test(l)),
      `${re} in\n${got.join('\n')}`,
    );
});

test('licences without a usageLocation flow are a validation error naming the fix', () => {
  const off = problems(`${HEAD}objects:
  user:
    flows:
      usageLocation: null
licenses:
  - sku: SPE_E3
    when: "true"
`);
  assert.deepEqual(off, [
    `10:22 licenses: Graph assigns a licence only to a user with a usageLocation, but objects.user.flows.usageLocation is turned off (null); flow one, e.g. objects.user.flows.usageLocation: 'coalesce(trim(source.msExchUsageLocation), "US")'`,
  ]);
  // applications: that need no usageLocation filter the default flow away
  const filtered = problems(`${HEAD}applications: [exchange-mail-public-folder]
licenses:
  - sku: SPE_E3
    when: "true"
`);
  assert.equal(filtered.length, 1, filtered.join('\n'));
  assert.match(filtered[0]!, /^8:1 licenses: .*applications: filters the default usageLocation flow away/);
  // a custom flow (or the default one) is fine
  assert.deepEqual(
    problems(`${HEAD}objects:
  user:
    flows:
      usageLocation: '"US"'
licenses:
  - sku: SPE_E3
    when: "true"
`),
    [],
  );
});
