import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SPEC_SCHEMA, isWritableProperty, writableProperties } from '../../src/spec/schema.js';
import { APPLICATIONS, INBOUND_APPLICATIONS, applicationCsvName } from '../../src/spec/applications.js';
import {
  DEFAULT_EMULATOR_TENANT,
  DEFAULT_ENDPOINT,
  DEFAULT_MAX_DELETES,
  DEFAULT_PAGE_SIZE,
} from '../../src/spec/normalize.js';
import { nearest } from '../../src/spec/suggest.js';

type S = Record<string, any>;
const schema = SPEC_SCHEMA as S;

test('the defaults the schema documents are the ones normalization applies', () => {
  const d = schema['definitions'];
  assert.equal(d.source.properties.ldap.properties.pageSize.default, DEFAULT_PAGE_SIZE);
  assert.equal(d.source.properties.anchor.default, 'ms-ds-consistencyguid');
  assert.equal(d.target.properties.entra.properties.endpoint.default, DEFAULT_ENDPOINT);
  assert.equal(d.target.properties.emulator.properties.tenant.default, DEFAULT_EMULATOR_TENANT);
  assert.equal(schema['properties'].safety.properties.maxDeletes.default, DEFAULT_MAX_DELETES);
});

test('applications: the schema enum is the inbound apps, and every app of app-attributes.csv has a name', () => {
  assert.deepEqual(schema['properties'].applications.items.enum, INBOUND_APPLICATIONS);
  assert.equal(applicationCsvName('teams'), 'Teams and Skype for Business Online');
  // The reference list lives beside the repository (shared/reference); check it when it is there.
  const csv = fileURLToPath(new URL('../../../../shared/reference/app-attributes.csv', import.meta.url));
  if (!existsSync(csv)) return;
  const apps = new Set(
    readFileSync(csv, 'utf8')
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(',')[0]!),
  );
  assert.deepEqual([...apps].sort(), APPLICATIONS.map((a) => a.csvName).sort());
});

test('writable properties: listed, extension properties allowed, read-only ones not', () => {
  assert.ok(writableProperties('user').includes('onPremisesExtensionAttributes.extensionAttribute15'));
  assert.ok(isWritableProperty('group', 'extension_0123456789abcdef0123456789abcdef_adsyncAnchor'));
  assert.equal(isWritableProperty('user', 'proxyAddresses'), false);
  assert.equal(isWritableProperty('contact', 'extension_0123456789abcdef0123456789abcdef_x'), false);
});

test('every property in the schema has a title or description (editor help)', () => {
  const missing: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (typeof node !== 'object' || node === null) return;
    const n = node as S;
    for (const [k, v] of Object.entries((n['properties'] ?? {}) as S)) {
      const vs = v as S;
      if (!vs['$ref'] && !vs['description'] && !(k === 'kind' && vs['const'])) missing.push(`${path}.${k}`);
      walk(v, `${path}.${k}`);
    }
    for (const key of ['items', 'definitions', 'oneOf', 'patternProperties']) {
      const child = n[key];
      if (Array.isArray(child)) child.forEach((c, i) => walk(c, `${path}.${key}[${i}]`));
      else if (key === 'items') walk(child, `${path}[]`);
      else if (child) for (const [k, v] of Object.entries(child as S)) walk(v, `${path}.${k}`);
    }
  };
  walk(schema, '');
  assert.deepEqual(missing, []);
});

test('suggestions: typos, case, truncations; nothing for unrelated words', () => {
  assert.equal(nearest('scop', ['name', 'scope', 'ldap']), 'scope');
  assert.equal(nearest('displayname', ['displayName', 'mail']), 'displayName');
  assert.equal(nearest('sharepoint', ['sharepoint-online', 'teams']), 'sharepoint-online');
  assert.equal(nearest('banana', ['scope', 'ldap']), undefined);
});

test('every default flow of the engine writes a property the schema allows (so a spec can override it)', async () => {
  const { DEFAULT_FLOWS } = await import('../../src/engine/flows.js');
  for (const kind of ['user', 'group', 'contact'] as const) {
    for (const prop of Object.keys(DEFAULT_FLOWS[kind])) assert.ok(isWritableProperty(kind, prop), `${kind}.${prop}`);
  }
});
