/** A disable is explicit data on the update (UpdateChange.disable), not recognised by its rule string. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countDeletes } from '../../src/engine/safety.js';
import { deleteModeStage } from '../../src/engine/stages/delete-mode.js';
import { DISABLE_FIRST_RULE, isDisable, type UpdateChange } from '../../src/model/change.js';

import { MARK, del, disableFirst as mode, now, target } from '../support/delete-mode.js';

describe('disable as data', () => {
  it('disable-first turns a delete into an update that says it disables, until when, and why', () => {
    const [c] = deleteModeStage({ changes: [del], reports: [] }, target(), mode, MARK, now).changes;
    assert.ok(c !== undefined && c.action === 'update');
    assert.deepEqual(c.disable, { deleteAfter: '2026-01-17T00:00:00.000Z', reason: 'out of scope' });
    assert.ok(isDisable(c));
    assert.equal(countDeletes({ changes: [c] }), 1);
  });

  it('an object back in scope has its mark cleared: an update of the same rule, but not a disable', () => {
    const { changes } = deleteModeStage(
      { changes: [], reports: [] },
      target('2026-02-01T00:00:00.000Z'),
      mode,
      MARK,
      now,
    );
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.rule, DISABLE_FIRST_RULE);
    assert.equal(isDisable(changes[0]!), false);
    assert.equal(countDeletes({ changes: [...changes] }), 0);
  });

  it('a plan saved before the field is read by its rule and the value it writes', () => {
    const legacy: UpdateChange = {
      action: 'update',
      kind: 'user',
      anchor: 'a1',
      target: 'entra',
      label: 'u1@x',
      id: 'id1',
      rule: DISABLE_FIRST_RULE,
      attributes: [{ name: 'accountEnabled', before: true, after: false, flow: `${DISABLE_FIRST_RULE} (…)` }],
    };
    assert.ok(isDisable(legacy));
    assert.equal(isDisable({ ...legacy, rule: 'objects.user' }), false);
    assert.ok(isDisable({ ...legacy, rule: 'objects.user', disable: { deleteAfter: 'x', reason: 'y' } }));
  });
});
