/** 30-day retention of deleted items (graph-facts §1): checked on the store, as no test can wait 30 days. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Store, type TenantConfig } from '../../src/emulator/store.js';

describe('emulator: deleted items retention', () => {
  it('keeps a deleted user for 30 days, then deletes it permanently', () => {
    const store = new Store({
      tenantId: 't',
      initialDomain: 'x.onmicrosoft.com',
      domains: [],
      tenantDisplayName: 't',
      createdDateTime: '',
      certPem: '',
      keyPem: '',
      appObjectId: 'a',
    } satisfies TenantConfig);
    const o = store.newObject('user', { displayName: 'old' });
    store.deleted.add(o);
    const deletedAt = Date.UTC(2026, 0, 1);
    store.deletedAt.set(o.id, deletedAt);
    const day = 24 * 3600 * 1000;
    store.purgeExpired(deletedAt + 30 * day - 1);
    assert.ok(store.deleted.byId.has(o.id), 'still restorable just before 30 days');
    store.purgeExpired(deletedAt + 30 * day);
    assert.equal(store.deleted.byId.has(o.id), false);
  });
});
