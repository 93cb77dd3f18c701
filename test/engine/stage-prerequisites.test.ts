/**
 * Stage: prerequisites (src/engine/stages/prerequisites.ts), on plain data: the plan lists adsync's directory
 * extensions its changes use that the tenant lacks, and nothing the tenant has.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prerequisitesStage } from '../../src/engine/stages/prerequisites.js';
import type { Change } from '../../src/model/change.js';

const APP = 'extension_0123456789abcdef0123456789abcdef';
const create: Change = {
  action: 'create',
  kind: 'user',
  anchor: 'a1',
  target: 'entra',
  label: 'ann@x',
  rule: 'test',
  attributes: [],
};
const disable: Change = {
  action: 'update',
  kind: 'user',
  anchor: 'a2',
  target: 'entra',
  label: 'bob@x',
  rule: 'test',
  id: 'id2',
  attributes: [
    { name: 'accountEnabled', before: true, after: false, flow: 'test' },
    { name: `${APP}_adsyncDeleteAfter`, after: '2026-01-17T00:00:00.000Z', flow: 'test' },
  ],
};
const names = (changes: Change[], registered?: string[]): string[] =>
  prerequisitesStage(changes, registered === undefined ? undefined : new Set(registered)).map((p) => p.name);

describe('stage: prerequisites', () => {
  it('a first create into a new tenant needs the anchor and the digest extensions', () => {
    assert.deepEqual(names([create], []), ['adsyncAnchor', 'adsyncDigest']);
    const [anchor] = prerequisitesStage([create], new Set());
    assert.deepEqual(Object.keys(anchor!).sort(), ['action', 'name', 'reason', 'target']);
    assert.equal(anchor!.action, 'register-extension');
  });

  it('nothing the tenant has; the disable-first mark when a disable writes it', () => {
    assert.deepEqual(names([create], [`${APP}_adsyncAnchor`, `${APP}_adsyncDigest`]), []);
    assert.deepEqual(names([disable], [`${APP}_adsyncAnchor`]), ['adsyncDeleteAfter']);
    assert.deepEqual(names([disable], [`${APP}_adsyncAnchor`, `${APP}_adsyncDeleteAfter`]), []);
  });

  it('no changes, writeback changes only, or a target that cannot say: none listed', () => {
    assert.deepEqual(names([], []), []);
    assert.deepEqual(names([{ ...create, target: 'ad' }], []), []);
    assert.deepEqual(names([create]), []);
  });
});
