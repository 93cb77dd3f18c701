import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  adsyncExtensionOf,
  ANCHOR_EXTENSION_NAME,
  DIGEST_EXTENSION_NAME,
  extensionName,
  parseExtensionName,
  PENDING_DELETE_EXTENSION_NAME,
  siblingExtension,
} from '../../src/model/extension.js';
import { pendingDeleteProperty } from '../../src/engine/safety.js';
import { attributeLabel } from '../../src/render/text.js';

const APP = '4E1B2C3D-0000-4aaa-8bbb-0123456789AB';
const ANCHOR = 'extension_4e1b2c3d00004aaa8bbb0123456789ab_adsyncAnchor';

describe('directory extension names (extension_<appId>_<name>)', () => {
  it('names an extension after the app id without hyphens, lower-cased', () => {
    assert.equal(extensionName(APP, ANCHOR_EXTENSION_NAME), ANCHOR);
  });

  it('parses a full name back, and refuses what is not one', () => {
    assert.deepEqual(parseExtensionName(ANCHOR), { app: '4e1b2c3d00004aaa8bbb0123456789ab', name: 'adsyncAnchor' });
    assert.equal(parseExtensionName('displayName'), undefined);
    assert.equal(parseExtensionName('extension__adsyncAnchor'), undefined);
    assert.equal(parseExtensionName('extension_xyz_adsyncAnchor'), undefined);
  });

  it('derives the digest and the disable-first mark beside the anchor, as the engine does', () => {
    assert.equal(siblingExtension(ANCHOR, DIGEST_EXTENSION_NAME), extensionName(APP, DIGEST_EXTENSION_NAME));
    assert.equal(siblingExtension(undefined, DIGEST_EXTENSION_NAME), undefined);
    assert.equal(siblingExtension(ANCHOR, PENDING_DELETE_EXTENSION_NAME), pendingDeleteProperty(ANCHOR));
  });

  it("recognises adsync's own extensions only, and the text plan shows them by their short name", () => {
    assert.equal(adsyncExtensionOf(extensionName(APP, PENDING_DELETE_EXTENSION_NAME)), 'adsyncDeleteAfter');
    assert.equal(adsyncExtensionOf(extensionName(APP, 'costCenter')), undefined);
    assert.equal(adsyncExtensionOf('department'), undefined);
    assert.equal(attributeLabel(extensionName(APP, PENDING_DELETE_EXTENSION_NAME)), 'adsyncDeleteAfter');
    assert.equal(attributeLabel(extensionName(APP, 'costCenter')), extensionName(APP, 'costCenter'));
  });
});
