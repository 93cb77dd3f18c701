/**
 * A source snapshot as plain data, order-free (entries and their values sorted, bytes as base64, computers
 * sorted): how the incremental-read tests compare a folded snapshot with a fresh full read. It imports nothing
 * from the code that folds.
 */
import type { SourceSnapshot } from '../../src/model/entry.js';

export function canonicalSource(s: SourceSnapshot): unknown {
  return {
    entries: s.entries
      .map((e) =>
        JSON.stringify([
          e.dn,
          Object.entries(e.attrs)
            .map(([k, vs]) => [
              k,
              vs.map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('base64'))).sort(),
            ])
            .sort(),
          e.unread ?? null,
        ]),
      )
      .sort(),
    computers: [...(s.computers ?? [])].sort(),
  };
}
