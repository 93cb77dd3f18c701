/**
 * A spec with very many problems: every one is reported, at its own line. validate was quadratic in the
 * number of problems (a position lookup scanned the mapping per problem, and the yaml package's duplicate-key
 * check scanned it per key); 50,000 bad flow keys took over two minutes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSpecText } from '../../src/spec/load.js';

const HEAD = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
target:
  emulator: { state: ./state.json }
objects:
  user:
    flows:
`;

test('50,000 unknown flow keys: 50,000 problems, each at its own key', () => {
  const n = 50_000;
  let text = HEAD;
  for (let i = 0; i < n; i++) text += `      badKey${i}: 'x'\n`;
  const { problems } = checkSpecText(text, 'big.yaml');
  assert.equal(problems.length, n);
  assert.deepEqual(
    [problems[0], problems[n - 1]].map((p) => `${p!.line}:${p!.col} ${p!.message}`),
    [
      "10:7 'badKey0' in objects.user.flows is not a writable Graph user property",
      `${9 + n}:7 'badKey${n - 1}' in objects.user.flows is not a writable Graph user property`,
    ],
  );
});

test('20,000 repeated keys: each repeat reported at its own line', () => {
  const n = 20_000;
  let text = HEAD;
  for (let i = 0; i < n; i++) text += `      displayName: 'trim(source.cn)'\n`;
  const { problems } = checkSpecText(text, 'dup.yaml');
  const dups = problems.filter(
    (p) => p.message === "duplicate key 'displayName': each key may appear once in a mapping",
  );
  assert.equal(dups.length, n - 1);
  assert.equal(dups[0]!.line, 11);
  assert.equal(dups[n - 2]!.line, 9 + n);
});

test('repeated keys in a flow mapping and in nested mappings', () => {
  const text = `${HEAD}      displayName: 'trim(source.cn)'\nsafety: { maxDeletes: 1, maxDeletes: 2 }\n`;
  const msgs = checkSpecText(text, 's.yaml').problems.map((p) => `${p.line}:${p.col} ${p.message}`);
  assert.deepEqual(msgs, ["11:26 duplicate key 'maxDeletes': each key may appear once in a mapping"]);
});
