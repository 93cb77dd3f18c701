/** Stage: delete mode (src/engine/stages/delete-mode.ts), on plain data. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DISABLE_FIRST_RULE } from '../../src/engine/safety.js';
import { deleteModeStage } from '../../src/engine/stages/delete-mode.js';
import type { Change } from '../../src/model/change.js';
import type { TargetSnapshot } from '../../src/model/target.js';

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

describe('stage: delete mode, the clock window (where `now` enters the plan)', () => {
  const windowOf = (t: TargetSnapshot, at: Date, changes: Change[] = [del]) => {
    const w = { from: null as number | null, until: null as number | null };
    const out = deleteModeStage({ changes, reports: [] }, t, disableFirst, MARK, at, w);
    return { w, out };
  };
  // An independent statement of the rule: the same inputs at any instant inside the window give the same stage
  // output; at the window's edges (and outside) they don't.
  const same = (t: TargetSnapshot, a: Date, b: Date) =>
    JSON.stringify(deleteModeStage({ changes: [del], reports: [] }, t, disableFirst, MARK, a)) ===
    JSON.stringify(deleteModeStage({ changes: [del], reports: [] }, t, disableFirst, MARK, b));

  it('no delete: unbounded (the plan does not depend on the clock)', () => {
    assert.deepEqual(windowOf(target(), now, []).w, { from: null, until: null });
  });

  it('a new disable carries now + grace: the window is this instant only (empty)', () => {
    const { w } = windowOf(target(), now);
    assert.deepEqual(w, { from: now.getTime(), until: now.getTime() });
    assert.equal(same(target(), now, new Date(now.getTime() + 1)), false);
  });

  it('a pending mark bounds the window above; a passed one below', () => {
    const mark = '2026-01-12T00:00:00.000Z';
    const pending = windowOf(target(mark), now).w;
    assert.deepEqual(pending, { from: null, until: Date.parse(mark) });
    assert.equal(same(target(mark), now, new Date(Date.parse(mark) - 1)), true);
    assert.equal(same(target(mark), now, new Date(Date.parse(mark))), false);
    const later = new Date('2026-01-20T00:00:00.000Z');
    const passed = windowOf(target(mark), later).w;
    assert.deepEqual(passed, { from: Date.parse(mark), until: null });
    assert.equal(same(target(mark), later, new Date(Date.parse(mark))), true);
    assert.equal(same(target(mark), later, new Date(Date.parse(mark) - 1)), false);
  });

  it('an unreadable mark never decides: unbounded', () => {
    assert.deepEqual(windowOf(target('not a date'), now).w, { from: null, until: null });
  });
});
