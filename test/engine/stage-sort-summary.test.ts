/** Stage: sort and summary (src/engine/stages/sort-summary.ts), on plain data. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sortAndSummarize } from '../../src/engine/stages/sort-summary.js';
import type { Change, ReportItem } from '../../src/model/change.js';

const del = (label: string, anchor: string): Change => ({
  action: 'delete',
  kind: 'user',
  anchor,
  target: 'entra',
  label,
  id: `id-${anchor}`,
  rule: 'sources.corp.scope',
  reason: 'out of scope',
});
const report = (label: string, code: string): ReportItem => ({
  code,
  kind: 'group',
  target: 'entra',
  anchor: label,
  label,
  reason: 'r',
});

describe('stage: sort and summary', () => {
  it('sorts changes by kind and label, reports by label then code, and counts them', () => {
    const changes = [del('zed@x', 'z'), del('Amy@x', 'a')];
    const reports = [report('b', 'y'), report('a', 'x'), report('b', 'a')];
    const out = sortAndSummarize(changes, reports);
    assert.deepEqual(
      out.changes.map((c) => c.label),
      ['Amy@x', 'zed@x'],
    );
    assert.deepEqual(
      out.reports.map((r) => `${r.label} ${r.code}`),
      ['a x', 'b a', 'b y'],
    );
    assert.equal(out.summary.delete, 2);
    assert.equal(out.summary.reports, 3);
  });

  it('leaves its inputs as they were', () => {
    const changes = [del('zed@x', 'z'), del('Amy@x', 'a')];
    const reports = [report('b', 'y'), report('a', 'x')];
    const before = JSON.stringify({ changes, reports });
    sortAndSummarize(changes, reports);
    assert.equal(JSON.stringify({ changes, reports }), before);
  });
});
