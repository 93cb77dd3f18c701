/** `state:` in the spec: shapes, positions of bad ones, and where openState puts local state. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { checkSpecText, parseSpec } from '../../src/spec/load.js';
import { localStateDir, openState } from '../../src/state/open.js';
import { LocalState } from '../../src/state/local.js';
import { AzureBlobState } from '../../src/state/azure-blob.js';

const BASE = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
target:
  emulator: { state: ./state.json }
`;
const problems = (state: string): string[] =>
  checkSpecText(BASE + state, 'spec.yaml').problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message}`);

test('state: absent by default; local and azureBlob normalize', () => {
  assert.equal(parseSpec(BASE, 'spec.yaml').state, undefined);
  assert.deepEqual(parseSpec(`${BASE}state:\n  local: {}\n`, 'spec.yaml').state, { local: {} });
  assert.deepEqual(parseSpec(`${BASE}state:\n  local: { dir: ./st }\n`, 'spec.yaml').state, { local: { dir: './st' } });
  assert.deepEqual(
    parseSpec(
      `${BASE}state:\n  azureBlob:\n    accountUrl: https://acct.blob.core.windows.net\n    container: adsync\n    prefix: contoso/prod\n    credential: { kind: workload-identity }\n`,
      'spec.yaml',
    ).state,
    {
      azureBlob: {
        accountUrl: 'https://acct.blob.core.windows.net',
        container: 'adsync',
        prefix: 'contoso/prod',
        credential: { kind: 'workload-identity' },
      },
    },
  );
});

test('bad state shapes: one line each with FILE:LINE:COL, and a literal secret is never echoed', () => {
  assert.deepEqual(problems('state:\n  s3: {}\n'), [
    'spec.yaml:8:3 state: state needs exactly one of local or azureBlob',
    "spec.yaml:8:3 unknown key 's3' in state",
  ]);
  assert.deepEqual(
    problems('state:\n  azureBlob:\n    accountUrl: https://acct.blob.core.windows.net\n    container: adsync\n'),
    ['spec.yaml:9:5 state.azureBlob: state.azureBlob needs exactly one of credential or connectionString'],
  );
  const literal = problems(
    'state:\n  azureBlob:\n    accountUrl: https://acct.blob.core.windows.net\n    container: Ad_sync\n    connectionString: DefaultEndpointsProtocol=https;AccountKey=c2VjcmV0\n',
  );
  assert.deepEqual(literal, [
    "spec.yaml:10:16 state.azureBlob.container must be a container name: 3-63 lowercase letters, digits and single hyphens, not 'Ad_sync'",
    'spec.yaml:11:23 state.azureBlob.connectionString: secrets are never literals in a spec: use { env: NAME }',
  ]);
  const sas = problems(
    'state:\n  azureBlob:\n    accountUrl: https://acct.blob.core.windows.net/?sv=2024&sig=c2VjcmV0\n    container: adsync\n    credential: { kind: default }\n    prefix: a/../b\n',
  );
  assert.equal(sas.length, 2);
  assert.match(
    sas[0]!,
    /^spec\.yaml:9:17 state\.azureBlob\.accountUrl must be the account's blob endpoint URL without a query/,
  );
  assert.ok(!sas.join('\n').includes('c2VjcmV0'), 'the SAS signature is not echoed');
  assert.match(sas[1]!, /^spec\.yaml:12:13 state\.azureBlob\.prefix must be path segments/);
});

test('openState: local by default in .adsync next to the spec, or $ADSYNC_STATE_DIR; local.dir (relative to the spec) wins', async () => {
  const spec = parseSpec(BASE, '/srv/sync/adsync.yaml');
  assert.equal(localStateDir(spec, {}), join('/srv/sync', '.adsync'));
  assert.equal(localStateDir(spec, { ADSYNC_STATE_DIR: 'rel/dir' }), resolve('rel/dir'));
  const withDir = parseSpec(`${BASE}state:\n  local: { dir: ./st }\n`, '/srv/sync/adsync.yaml');
  assert.equal(localStateDir(withDir, { ADSYNC_STATE_DIR: '/elsewhere' }), '/srv/sync/st');
  const opened = await openState(withDir, { env: {} });
  assert.ok(opened instanceof LocalState);
  assert.equal(opened.location, '/srv/sync/st');
});

test('openState: azureBlob with a credential uses it (no storage request is made to open)', async () => {
  const spec = parseSpec(
    `${BASE}state:\n  azureBlob:\n    accountUrl: https://acct.blob.core.windows.net\n    container: adsync\n    prefix: contoso\n    credential: { kind: default }\n`,
    'spec.yaml',
  );
  const credential = { getToken: async () => ({ token: 'unused', expiresOnTimestamp: Date.now() + 3600_000 }) };
  const opened = await openState(spec, { env: {}, credential });
  assert.ok(opened instanceof AzureBlobState);
  assert.equal(opened.location, 'https://acct.blob.core.windows.net/adsync/contoso');
});
