import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, isAbsolute } from 'node:path';
import { createHash } from 'node:crypto';
import { checkSpecText, loadSpec, parseSpec } from '../../src/spec/load.js';
import { AdsyncError, SpecError } from '../../src/errors.js';

const MINIMAL = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
target:
  emulator: { state: ./state.json }
`;

/** The problems of a spec text as `LINE:COL message` lines. */
function problems(text: string): string[] {
  return checkSpecText(text, 'spec.yaml').problems.map((p) => `${p.line}:${p.col} ${p.message}`);
}

test('a minimal spec normalizes with every default', () => {
  const spec = parseSpec(MINIMAL, 'some/dir/adsync.yaml');
  assert.ok(isAbsolute(spec.file));
  assert.ok(spec.file.endsWith(join('some', 'dir', 'adsync.yaml')));
  assert.ok(spec.dir.endsWith(join('some', 'dir')));
  assert.equal(spec.digest, createHash('sha256').update(MINIMAL).digest('hex'));
  assert.deepEqual(
    { ...spec, file: undefined, dir: undefined, digest: undefined },
    {
      file: undefined,
      dir: undefined,
      digest: undefined,
      version: 1,
      sources: [
        {
          name: 'corp',
          ldif: { path: './corp.ldif' },
          anchor: 'ms-ds-consistencyguid',
          scope: { domains: [], ous: { include: [], exclude: [] }, groups: [] },
        },
      ],
      target: { emulator: { state: './state.json', tenant: 'contoso.onmicrosoft.com', domains: [] } },
      applications: [],
      matching: { softMatch: 'off' },
      objects: {
        user: { enabled: true, flows: {} },
        group: { enabled: true, flows: {} },
        contact: { enabled: true, flows: {} },
      },
      safety: {
        maxDeletes: 500,
        maxDeletePercent: 50,
        maxMemberRemovals: 500,
        maxMemberRemovalPercent: 50,
        allowEmptySource: false,
        maxTakeovers: 10,
        deleteMode: 'delete',
        deleteGraceDays: 7,
      },
      writeback: [],
    },
  );
});

test('an LDAP source and an Entra target get their defaults, and references stay references', () => {
  const spec = parseSpec(
    `version: 1
sources:
  - name: corp
    ldap:
      url: { env: ADSYNC_LDAP_URL }
      bindDn: CN=svc-adsync,OU=Service,DC=corp,DC=example
      password: { env: ADSYNC_LDAP_PASSWORD }
    anchor: objectguid
    scope:
      domains: [corp.example]
      ous: { include: ["OU=Staff,DC=corp,DC=example"], exclude: ["OU=Disabled,OU=Staff,DC=corp,DC=example"] }
      groups: ["CN=pilot,OU=Groups,DC=corp,DC=example"]
      filter: "(!(extensionAttribute15=NOSYNC))"
target:
  entra:
    tenantId: { env: AZURE_TENANT_ID }
    credential: { kind: client-secret, clientId: { env: AZURE_CLIENT_ID }, secret: { file: ./secret } }
applications: [exchange-online, teams]
objects:
  user:
    flows:
      displayName: "source.givenName + ' ' + source.sn"
      jobTitle: null
  contact: { enabled: false }
safety: { maxDeletes: 50, maxDeletePercent: 10 }
`,
    'adsync.yaml',
  );
  const src = spec.sources[0]!;
  assert.deepEqual(src.ldap, {
    url: { env: 'ADSYNC_LDAP_URL' },
    bindDn: 'CN=svc-adsync,OU=Service,DC=corp,DC=example',
    password: { env: 'ADSYNC_LDAP_PASSWORD' },
    pageSize: 500,
  });
  assert.equal(src.anchor, 'objectguid');
  assert.equal(src.scope.filter, '(!(extensionAttribute15=NOSYNC))');
  assert.deepEqual(spec.target.entra, {
    tenantId: { env: 'AZURE_TENANT_ID' },
    endpoint: 'https://graph.microsoft.com',
    credential: { kind: 'client-secret', clientId: { env: 'AZURE_CLIENT_ID' }, secret: { file: './secret' } },
  });
  assert.deepEqual(spec.applications, ['exchange-online', 'teams']);
  assert.deepEqual(spec.objects.user.flows, { displayName: "source.givenName + ' ' + source.sn", jobTitle: null });
  assert.equal(spec.objects.contact.enabled, false);
  assert.deepEqual(spec.safety, {
    maxDeletes: 50,
    maxDeletePercent: 10,
    maxMemberRemovals: 500,
    maxMemberRemovalPercent: 50,
    allowEmptySource: false,
    maxTakeovers: 10,
    deleteMode: 'delete',
    deleteGraceDays: 7,
  });
});

test('YAML syntax error: position of the error, and no schema noise', () => {
  assert.deepEqual(
    problems('version: 1\nsources: [\n  - name: corp\n'),
    problems('version: 1\nsources: [\n  - name: corp\n'),
  );
  const got = problems('version: 1\ntarget:\n  emulator: { state: x\n');
  assert.equal(got.length >= 1, true);
  assert.match(got[0]!, /^\d+:\d+ YAML syntax error: /);
  assert.ok(
    got.every((l) => l.includes('YAML syntax error')),
    got.join('\n'),
  );
  assert.deepEqual(problems('version: 1\nsources:\n  - name: corp\n   ldif: x\n'), [
    '4:1 YAML syntax error: Sequence item without - indicator',
  ]);
});

test('unknown key: at the key, with the nearest valid key', () => {
  assert.deepEqual(problems(MINIMAL.replace('    ldif:', '    scop: {}\n    ldif:')), [
    "4:5 unknown key 'scop' in sources[0]; did you mean 'scope'?",
  ]);
  assert.deepEqual(problems(`${MINIMAL}safty: {}\n`), ["7:1 unknown key 'safty' in the spec; did you mean 'safety'?"]);
});

test('wrong type: at the value', () => {
  assert.deepEqual(problems(`${MINIMAL}safety:\n  maxDeletes: many\n`), [
    '8:15 safety.maxDeletes must be an integer, not the string "many"',
  ]);
  assert.deepEqual(problems(MINIMAL.replace('version: 1', 'version: 2')), ['1:10 version must be 1, not 2']);
});

test('missing required field: at the parent mapping, naming the key', () => {
  assert.deepEqual(
    problems(`version: 1
sources:
  - name: corp
    ldap:
      url: ldaps://dc1.corp.example
      password: { env: P }
target:
  emulator: { state: s.json }
`),
    ["5:7 missing required key 'bindDn' in sources[0].ldap"],
  );
  assert.deepEqual(problems('version: 1\nsources:\n  - name: corp\n    ldif: { path: x }\n'), [
    "1:1 missing required key 'target' in the spec",
  ]);
});

test('duplicate key: at the second occurrence', () => {
  assert.deepEqual(problems(`${MINIMAL}safety:\n  maxDeletes: 1\n  maxDeletes: 2\n`), [
    "9:3 duplicate key 'maxDeletes': each key may appear once in a mapping",
  ]);
});

test('literal secret: refused with the reason', () => {
  assert.deepEqual(
    problems(`version: 1
sources:
  - name: corp
    ldap:
      url: ldaps://dc1.corp.example
      bindDn: CN=svc,DC=corp,DC=example
      password: hunter2
target:
  entra:
    tenantId: t
    credential: { kind: client-secret, clientId: c, secret: s3cret }
`),
    [
      '7:17 sources[0].ldap.password: secrets are never literals in a spec: use { env: NAME } or { file: PATH }',
      '11:61 target.entra.credential.secret: secrets are never literals in a spec: use { env: NAME } or { file: PATH }',
    ],
  );
  assert.deepEqual(
    problems(
      MINIMAL.replace(
        'ldif: { path: ./corp.ldif }',
        'ldap: { url: ldap://x, bindDn: b, password: { env: P, file: f } }',
      ),
    ),
    ['4:49 sources[0].ldap.password: a secret reference needs exactly one of env or file'],
  );
});

test("bad LDAP filter: at the filter, with the parser's reason", () => {
  assert.deepEqual(problems(MINIMAL.replace('    ldif:', '    scope: { filter: "(&(a=b)" }\n    ldif:')), [
    "4:22 sources[0].scope.filter is not a valid LDAP filter (RFC 4515): unbalanced parentheses (2 '(' and 1 ')'; escape literal ones as \\28 and \\29)",
  ]);
  assert.deepEqual(problems(MINIMAL.replace('    ldif:', '    scope: { filter: "(a=b)(c=d)" }\n    ldif:')), [
    '4:22 sources[0].scope.filter is not a valid LDAP filter (RFC 4515): Unbalanced parens in filter string: (a=b)(c=d)',
  ]);
});

test('bad OU DN: at the DN', () => {
  assert.deepEqual(
    problems(
      MINIMAL.replace(
        '    ldif:',
        '    scope:\n      ous:\n        include:\n          - OU=Staff,DC=corp,DC=example\n          - OU=Staff;DC=corp\n    ldif:',
      ),
    ),
    ["8:13 sources[0].scope.ous.include[1] is not a valid DN: OU=Staff;DC=corp: ';' must be escaped"],
  );
  assert.deepEqual(problems(MINIMAL.replace('    ldif:', '    scope: { groups: ["Staff"] }\n    ldif:')), [
    "4:23 sources[0].scope.groups[0] is not a valid DN: 'Staff' is not attribute=value",
  ]);
});

test('bad CEL flow expression: at the expression', () => {
  assert.deepEqual(problems(`${MINIMAL}objects:\n  user:\n    flows:\n      displayName: "source.cn +"\n`), [
    '10:20 objects.user.flows.displayName is not a valid CEL expression: Unexpected token: EOF',
  ]);
});

test('flows name only writable Graph properties, with a suggestion', () => {
  assert.deepEqual(
    problems(
      `${MINIMAL}objects:\n  group:\n    flows:\n      descripton: source.description\n      extension_0123456789abcdef0123456789abcdef_anchor: source.objectGUID\n`,
    ),
    ["10:7 'descripton' in objects.group.flows is not a writable Graph group property; did you mean 'description'?"],
  );
});

test('unknown application: with a suggestion', () => {
  assert.deepEqual(problems(`${MINIMAL}applications: [exchange-online, sharepoint]\n`), [
    "7:33 unknown application 'sharepoint' in applications[1]; did you mean 'sharepoint-online'?",
  ]);
});

test('credential kinds: unknown kind suggested, missing fields of the chosen kind named', () => {
  assert.deepEqual(
    problems(
      MINIMAL.replace(
        '  emulator: { state: ./state.json }',
        '  entra:\n    tenantId: t\n    credential: { kind: workload-identiy }',
      ),
    ),
    ["8:25 target.entra.credential: unknown kind 'workload-identiy'; did you mean 'workload-identity'?"],
  );
  assert.deepEqual(
    problems(
      MINIMAL.replace(
        '  emulator: { state: ./state.json }',
        '  entra:\n    tenantId: t\n    credential:\n      kind: client-certificate\n      clientId: c\n',
      ),
    ),
    ["9:7 missing required key 'certificate' in target.entra.credential"],
  );
});

test('exactly one source kind and exactly one target', () => {
  assert.deepEqual(problems(MINIMAL.replace('    ldif: { path: ./corp.ldif }\n', '')), [
    '3:5 sources[0]: a source needs exactly one of ldap or ldif',
  ]);
  assert.deepEqual(problems(MINIMAL.replace('target:\n  emulator: { state: ./state.json }', 'target: {}')), [
    '5:9 target: target needs exactly one of entra or emulator',
  ]);
});

test('duplicate source names', () => {
  assert.deepEqual(problems(MINIMAL.replace('target:', '  - name: corp\n    ldif: { path: b.ldif }\ntarget:')), [
    "5:11 duplicate source name 'corp' (also sources[0].name)",
  ]);
});

test('every problem at once, sorted by position', () => {
  const text = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope: { filter: "(a=b" }
    anchr: objectguid
target:
  emulator: { state: ./state.json }
safety: { maxDeletes: -1 }
`;
  const got = problems(text);
  assert.equal(got.length, 3, got.join('\n'));
  assert.deepEqual(
    got.map((l) => l.split(' ')[0]),
    ['5:22', '6:5', '9:23'],
  );
  assert.throws(
    () => parseSpec(text, 'x.yaml'),
    (err: unknown) =>
      err instanceof SpecError && err.problems.length === 3 && err.problems.every((p) => p.file === 'x.yaml'),
  );
});

test('empty spec', () => {
  assert.deepEqual(problems(''), ['1:1 the spec is empty: it needs at least version, sources and target']);
  assert.deepEqual(problems('- a\n'), [
    '1:1 the spec: the spec must be a YAML mapping with version, sources and target',
  ]);
});

test('loadSpec: digest of the bytes, problems name the path as given, a missing file is one clear error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-spec-'));
  const file = join(dir, 'adsync.yaml');
  await writeFile(file, MINIMAL);
  const spec = await loadSpec(file);
  assert.equal(spec.file, file);
  assert.equal(spec.dir, dir);
  assert.equal(spec.digest, createHash('sha256').update(MINIMAL).digest('hex'));

  await writeFile(file, MINIMAL.replace('version: 1', 'version: one'));
  await assert.rejects(
    loadSpec(file),
    (err: unknown) => err instanceof SpecError && err.problems[0]?.file === file && err.problems[0]?.line === 1,
  );

  await assert.rejects(loadSpec(join(dir, 'missing.yaml')), (err: unknown) => {
    assert.ok(err instanceof AdsyncError && !(err instanceof SpecError));
    assert.equal(err.message, `spec not found: ${join(dir, 'missing.yaml')}`);
    assert.equal(err.hint, '-c/--config defaults to ./adsync.yaml');
    return true;
  });
});
