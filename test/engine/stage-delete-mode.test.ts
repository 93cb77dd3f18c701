/** Stage: delete mode (src/engine/stages/delete-mode.ts), on plain data. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DISABLE_FIRST_RULE } from '../../src/engine/safety.js';
import { deleteModeStage } from '../../src/engine/stages/delete-mode.js';

import { MARK, del, disableFirst, now, target } from '../support/delete-mode.js';

describe('stage: delete mode', () => {
  it('delete mode `delete`: the changes pass through', () => {
    const inbound = { changes: [del], reports: [] };
    assert.equal(deleteModeStage(inbound, target(), { deleteMode: 'delete', deleteGraceDays: 7 }, MARK, now), inbound);
  });

  it('disable-first: a delete becomes a disable plus a dated mark', () => {
    const out = deleteModeStage({ changes: [del], reports: [] }, target(), disableFirst, MARK, now);
    assert.equal(out.changes.length, 1);
    const c = out.changes[0]!;
    assert.ok(c.action === 'update');
    assert.equal(c.rule, DISABLE_FIRST_RULE);
    assert.deepEqual(
      c.attributes.map((a) => [a.name, a.after]),
      [
        ['accountEnabled', false],
        [MARK, '2026-01-17T00:00:00.000Z'],
      ],
    );
  });

  it('disable-first: marked and still in its grace period, a report item; past it, the delete', () => {
    const within = deleteModeStage(
      { changes: [del], reports: [] },
      target('2026-01-12T00:00:00.000Z'),
      disableFirst,
      MARK,
      now,
    );
    assert.deepEqual(within.changes, []);
    assert.deepEqual(
      within.reports.map((r) => r.code),
      ['pending-delete'],
    );
    const past = deleteModeStage(
      { changes: [del], reports: [] },
      target('2026-01-09T00:00:00.000Z'),
      disableFirst,
      MARK,
      now,
    );
    assert.deepEqual(past.changes, [del]);
  });

  it('without a mark property on the target (no extension), deletes stay deletes', () => {
    const inbound = { changes: [del], reports: [] };
    assert.equal(deleteModeStage(inbound, target(), disableFirst, undefined, now), inbound);
  });

  it('leaves its inputs as they were', () => {
    const changes = [del];
    const before = JSON.stringify(changes);
    deleteModeStage({ changes, reports: [] }, target(), disableFirst, MARK, now);
    assert.equal(JSON.stringify(changes), before);
  });
});
