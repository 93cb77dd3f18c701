/** Stage: observed digests (src/engine/stages/observed.ts), on plain data. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, objectDigest, stampObserved } from '../../src/engine/stages/observed.js';
import type { Change } from '../../src/model/change.js';
import type { TargetSnapshot } from '../../src/model/target.js';

const snapshot: TargetSnapshot = {
  system: 'entra',
  objects: [
    { id: 'id1', kind: 'user', anchor: 'a1', attrs: { userPrincipalName: 'u1@x' } },
    { id: 'id2', kind: 'user', attrs: { userPrincipalName: 'cloud@x' } },
  ],
  deleted: [{ id: 'id3', kind: 'user', anchor: 'a3', attrs: { userPrincipalName: 'gone@x' } }],
};
const change = (anchor: string, id?: string): Change => ({
  action: 'delete',
  kind: 'user',
  anchor,
  target: 'entra',
  label: anchor,
  id: id ?? `id-${anchor}`,
  rule: 'r',
  reason: 'r',
});

describe('stage: observed digests', () => {
  it('digests the object a change touches: by anchor, by id (adoption), among deleted ones, or none', () => {
    const [owned, adopted, deleted, none] = stampObserved(
      [change('a1'), change('new', 'id2'), change('a3'), change('a9')],
      snapshot,
    );
    assert.equal(owned!.observed, objectDigest(snapshot.objects[0]!));
    assert.equal(adopted!.observed, objectDigest(snapshot.objects[1]!));
    assert.equal(deleted!.observed, objectDigest(snapshot.deleted[0]!, true));
    assert.equal(none!.observed, objectDigest(null));
    assert.notEqual(owned!.observed, objectDigest(snapshot.objects[0]!, true), 'deleted is part of the digest');
  });

  it('returns new changes and leaves the input list alone', () => {
    const input = [change('a1')];
    const out = stampObserved(input, snapshot);
    assert.equal(input[0]!.observed, undefined);
    assert.notEqual(out[0], input[0]);
  });

  it('canonical JSON does not depend on key order', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ y: 2, x: 1 }] }), canonicalJson({ a: [{ x: 1, y: 2 }], b: 1 }));
    assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
  });
});
