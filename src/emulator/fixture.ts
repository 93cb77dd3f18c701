/**
 * Tenant fixtures (⚑ DESIGN contract, issue 12 item 5): a YAML or JSON file describing a tenant — verified
 * domains, users, groups and contacts (including objects Entra Connect synchronizes, with their onPremises*
 * values), memberships, managers, directory role holders, subscribed SKUs and directory extensions — loaded
 * into a fresh emulator. Validated against schemas/emulator-fixture.schema.json with the spec loader's position
 * machinery, so every problem reads `FILE:LINE:COL message`.
 *
 * Parsing happens in the CLI process (errors with positions, exit 1, nothing started); the result is plain JSON
 * that the emulator (maybe in a child process) applies with `applyFixture`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { AdsyncError, type SpecProblem } from '../errors.js';
import { Locator, formatPath, type SpecPath } from '../spec/positions.js';
import { schemaProblems } from '../spec/schema-problems.js';
import { MESSAGES_KEYWORD } from '../spec/schema.js';
import { sortProblems } from '../spec/load.js';
import { ROLE_TEMPLATES, seedRole } from './roles.js';
import type { Kind } from './schema.js';
import type { Application, DirObject, Store, SubscribedSku } from './store.js';
import { isoSeconds } from './directory.js';
import { sid } from './users.js';
import { setLicenses } from './licenses.js';
import { DEFAULT_ROLES } from './permissions.js';

/** A fixture (or several) is invalid: every problem at once, as `FILE:LINE:COL message`. */
export class FixtureError extends AdsyncError {
  readonly problems: SpecProblem[];
  constructor(problems: SpecProblem[]) {
    super(
      'fixture_invalid',
      problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message}`).join('\n') || 'invalid fixture',
      {
        hint: 'fix the problems above; the format is schemas/emulator-fixture.schema.json (README: "Tenant fixtures")',
      },
    );
    this.problems = problems;
  }
}

export interface FixtureLicense {
  skuId: string;
  disabledPlans: string[];
}

export interface FixtureObject {
  kind: Kind;
  id: string;
  props: Record<string, unknown>;
  /** Directory extension values by short name (resolved to full names when applied). */
  ext: Record<string, unknown>;
  manager?: string;
  members?: string[];
  owners?: string[];
  licenses?: FixtureLicense[];
  cloudManaged?: boolean;
}

export interface FixtureExtension {
  name: string;
  dataType: string;
  targetObjects: string[];
  isMultiValued: boolean;
  isSyncedFromOnPremises: boolean;
  appId?: string;
  appDisplayName?: string;
}

/** What the emulator applies: JSON only (it crosses to the emulator's child process). */
export interface TenantFixture {
  /** sha256 over the files' bytes, in order: a persisted state remembers which fixtures made it. */
  digest: string;
  files: string[];
  displayName?: string;
  domains: string[];
  directorySync?: {
    enabled: boolean;
    lastSyncDateTime?: string;
    features: Record<string, boolean>;
    alertThreshold?: number;
  };
  skus: SubscribedSku[];
  extensions: FixtureExtension[];
  objects: FixtureObject[];
  roles: { displayName?: string; roleTemplateId: string; members: string[] }[];
  /** Application permissions an admin consented to for the client app, beyond the emulator's default grant. */
  grantedPermissions?: string[];
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Raw => (isObj(v) ? v : {});

function readSchema(): Record<string, unknown> {
  for (const rel of ['../../../schemas/emulator-fixture.schema.json', '../../schemas/emulator-fixture.schema.json']) {
    try {
      return JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as Record<string, unknown>;
    } catch {
      /* next */
    }
  }
  throw new Error('cannot read schemas/emulator-fixture.schema.json');
}

let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true, strict: true, strictRequired: false });
    ajv.addKeyword({ keyword: MESSAGES_KEYWORD, schemaType: 'object' });
    compiled = ajv.compile(readSchema());
  }
  return compiled;
}

/** A problem before it has a position: which file, which path. */
interface Located {
  file: number;
  path: SpecPath;
  at?: 'key' | 'value';
  message: string;
}

/** Not rendered as Graph properties: fixture-only keys. */
const META_KEYS = new Set(['key', 'extensions', 'manager', 'members', 'owners', 'licenses', 'cloudManaged']);

/** A stable object id from the fixture's digest and the object's name, so CI runs see the same ids. */
function stableId(digest: string, kind: string, name: string): string {
  const h = createHash('sha256').update(`${digest}|${kind}|${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function extensionValueOk(dataType: string, multi: boolean, v: unknown): boolean {
  const values = multi ? v : [v];
  if (!Array.isArray(values)) return false;
  return values.every((x) => {
    switch (dataType) {
      case 'String':
        return typeof x === 'string' && x.length <= 256;
      case 'Boolean':
        return typeof x === 'boolean';
      case 'Integer':
      case 'LargeInteger':
        return Number.isInteger(x);
      case 'DateTime':
        return typeof x === 'string' && !Number.isNaN(Date.parse(x));
      case 'Binary':
        return typeof x === 'string';
      default:
        return false;
    }
  });
}

/** Parses, validates and merges fixture texts (in order; later files add to earlier ones). Throws FixtureError. */
export function parseFixtures(inputs: { file: string; text: string }[]): TenantFixture {
  const located: Located[] = [];
  const locators: Locator[] = [];
  const datas: Raw[] = [];
  const positioned: SpecProblem[] = [];
  const digest = createHash('sha256');
  inputs.forEach(({ file, text }, fi) => {
    digest.update(`${file.length}:${text.length}:`).update(text, 'utf8');
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const locator = new Locator(doc, lines);
    locators.push(locator);
    let broken = false;
    for (const err of doc.errors) {
      const { line, col } = locator.at(err.pos[0]);
      if (err.code !== 'DUPLICATE_KEY') broken = true;
      positioned.push({
        file,
        line,
        col,
        message:
          err.code === 'DUPLICATE_KEY'
            ? 'duplicate key: each key may appear once in a mapping'
            : `YAML syntax error: ${err.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '')}`,
      });
    }
    const data: unknown = broken ? undefined : doc.toJS({ maxAliasCount: 100 });
    if (!broken && (data === null || data === undefined))
      positioned.push({ file, line: 1, col: 1, message: 'the fixture is empty: it needs at least version: 1' });
    const v = validator();
    if (!broken && data !== null && data !== undefined && !v(data)) {
      for (const p of schemaProblems(v.errors ?? []))
        located.push({ file: fi, path: p.path, at: p.at, message: p.message });
    }
    datas.push(obj(data));
  });
  const hex = digest.digest('hex');
  const fixture = resolveFixtures(datas, hex, located);
  fixture.files = inputs.map((i) => i.file);
  for (const p of located) {
    const { line, col } = locators[p.file]!.locate(p.path, p.at ?? 'value');
    positioned.push({ file: inputs[p.file]!.file, line, col, message: p.message });
  }
  if (positioned.length > 0)
    throw new FixtureError(
      sortByFile(
        positioned,
        inputs.map((i) => i.file),
      ),
    );
  return fixture;
}

function sortByFile(problems: SpecProblem[], files: string[]): SpecProblem[] {
  return files.flatMap((f) => sortProblems(problems.filter((p) => p.file === f)));
}

/** The semantic part: references, uniqueness, SKUs and extensions, across all files. */
function resolveFixtures(datas: Raw[], digest: string, problems: Located[]): TenantFixture {
  const out: TenantFixture = { digest, files: [], domains: [], skus: [], extensions: [], objects: [], roles: [] };
  const where = new Map<FixtureObject, { file: number; path: SpecPath }>();
  const byKey = new Map<string, FixtureObject>();
  const byUpn = new Map<string, FixtureObject>();
  const byId = new Map<string, FixtureObject>();
  const byName = new Map<string, FixtureObject[]>();
  const unique = new Map<string, { file: number; path: SpecPath }>();
  const claim = (what: string, value: unknown, file: number, path: SpecPath): void => {
    if (typeof value !== 'string' || value === '') return;
    const k = `${what}\u0000${value.toLowerCase()}`;
    const first = unique.get(k);
    if (first)
      problems.push({
        file,
        path,
        message: `${formatPath(path)}: ${what} '${value}' is already used at ${formatPath(first.path)} (unique in the tenant)`,
      });
    else unique.set(k, { file, path });
  };

  datas.forEach((d, fi) => {
    const t = obj(d['tenant']);
    if (typeof t['displayName'] === 'string') out.displayName = t['displayName'];
    for (const dom of list(t['domains']))
      if (typeof dom === 'string' && !out.domains.includes(dom.toLowerCase())) out.domains.push(dom.toLowerCase());
    for (const p of list(d['grantedPermissions']))
      if (typeof p === 'string' && !(out.grantedPermissions ??= []).includes(p)) out.grantedPermissions.push(p);
    if (isObj(d['directorySync'])) {
      const s = d['directorySync'];
      const prev = out.directorySync ?? { enabled: true, features: {} };
      out.directorySync = {
        ...prev,
        enabled: s['enabled'] !== false,
        features: { ...prev.features, ...(obj(s['features']) as Record<string, boolean>) },
        ...(typeof s['lastSyncDateTime'] === 'string' ? { lastSyncDateTime: s['lastSyncDateTime'] } : {}),
        ...(typeof s['accidentalDeletionThreshold'] === 'number'
          ? { alertThreshold: s['accidentalDeletionThreshold'] }
          : {}),
      };
    }
    list(d['subscribedSkus']).forEach((raw, i) => {
      const s = obj(raw);
      const path = ['subscribedSkus', i];
      claim('skuId', s['skuId'], fi, [...path, 'skuId']);
      claim('skuPartNumber', s['skuPartNumber'], fi, [...path, 'skuPartNumber']);
      out.skus.push({
        skuId: String(s['skuId']).toLowerCase(),
        skuPartNumber: String(s['skuPartNumber']),
        appliesTo: typeof s['appliesTo'] === 'string' ? s['appliesTo'] : 'User',
        capabilityStatus: typeof s['capabilityStatus'] === 'string' ? s['capabilityStatus'] : 'Enabled',
        prepaidUnits: {
          enabled: Number(s['enabledUnits'] ?? 0),
          suspended: Number(s['suspendedUnits'] ?? 0),
          warning: Number(s['warningUnits'] ?? 0),
          lockedOut: Number(s['lockedOutUnits'] ?? 0),
        },
        servicePlans: list(s['servicePlans']).map((p) => ({
          servicePlanId: String(obj(p)['servicePlanId']).toLowerCase(),
          servicePlanName: String(obj(p)['servicePlanName']),
          provisioningStatus: 'Success',
          appliesTo: String(obj(p)['appliesTo'] ?? 'User'),
        })),
        subscriptionIds: [stableId(digest, 'subscription', String(s['skuId']))],
      });
    });
    list(d['extensions']).forEach((raw, i) => {
      const e = obj(raw);
      claim('extension', `${String(e['appId'] ?? '')}/${String(e['name'])}`, fi, ['extensions', i, 'name']);
      out.extensions.push({
        name: String(e['name']),
        dataType: String(e['dataType']),
        targetObjects: list(e['targetObjects']).map(String),
        isMultiValued: e['isMultiValued'] === true,
        isSyncedFromOnPremises: e['isSyncedFromOnPremises'] === true,
        ...(typeof e['appId'] === 'string' ? { appId: e['appId'].toLowerCase() } : {}),
        ...(typeof e['appDisplayName'] === 'string' ? { appDisplayName: e['appDisplayName'] } : {}),
      });
    });
    for (const [section, kind] of [
      ['users', 'user'],
      ['groups', 'group'],
      ['contacts', 'contact'],
    ] as const) {
      list(d[section]).forEach((raw, i) => {
        const r = obj(raw);
        const path: SpecPath = [section, i];
        const name = String(r['key'] ?? r['userPrincipalName'] ?? `${String(r['displayName'])}#${i}#${fi}`);
        const id = typeof r['id'] === 'string' ? r['id'].toLowerCase() : stableId(digest, kind, name);
        const props: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r)) if (!META_KEYS.has(k)) props[k] = v;
        props['id'] = id;
        const o: FixtureObject = { kind, id, props, ext: { ...obj(r['extensions']) } };
        if (r['cloudManaged'] === true) o.cloudManaged = true;
        where.set(o, { file: fi, path });
        out.objects.push(o);
        if (typeof r['key'] === 'string') {
          if (byKey.has(r['key']))
            problems.push({
              file: fi,
              path: [...path, 'key'],
              message: `${formatPath([...path, 'key'])}: key '${r['key']}' is used twice`,
            });
          byKey.set(r['key'], o);
        }
        claim('id', id, fi, [...path, 'id']);
        if (kind === 'user') {
          claim('userPrincipalName', r['userPrincipalName'], fi, [...path, 'userPrincipalName']);
          if (typeof r['userPrincipalName'] === 'string') byUpn.set(r['userPrincipalName'].toLowerCase(), o);
        }
        // graph-facts-2 §1: onPremisesImmutableId and onPremisesSecurityIdentifier are unique in the tenant.
        claim('onPremisesImmutableId', r['onPremisesImmutableId'], fi, [...path, 'onPremisesImmutableId']);
        claim('onPremisesSecurityIdentifier', r['onPremisesSecurityIdentifier'], fi, [
          ...path,
          'onPremisesSecurityIdentifier',
        ]);
        // graph-facts §1: an SMTP address belongs to one object of the tenant.
        const addrs = [
          r['mail'],
          ...list(r['proxyAddresses'])
            .filter((a) => typeof a === 'string' && /^smtp:/i.test(a))
            .map((a) => String(a).slice(5)),
        ];
        for (const a of new Set(addrs.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase())))
          claim('address', a, fi, [...path, r['mail'] !== undefined ? 'mail' : 'proxyAddresses']);
        byId.set(id, o);
        if (typeof r['displayName'] === 'string')
          byName.set(r['displayName'], [...(byName.get(r['displayName']) ?? []), o]);
        if (r['cloudManaged'] === true && r['onPremisesSyncEnabled'] === true) {
          problems.push({
            file: fi,
            path: [...path, 'cloudManaged'],
            message: `${formatPath([...path, 'cloudManaged'])}: a cloud-managed object reads onPremisesSyncEnabled null, not true (graph-facts-2 §2.3)`,
          });
        }
      });
    }
  });

  const resolve = (ref: unknown, file: number, path: SpecPath, kinds: Kind[]): FixtureObject | undefined => {
    if (typeof ref !== 'string') return undefined;
    let o = byKey.get(ref) ?? byUpn.get(ref.toLowerCase()) ?? byId.get(ref.toLowerCase());
    if (!o) {
      const named = byName.get(ref) ?? [];
      if (named.length > 1) {
        problems.push({
          file,
          path,
          message: `${formatPath(path)}: '${ref}' names ${named.length} objects; refer to one by its key`,
        });
        return undefined;
      }
      o = named[0];
    }
    if (!o) {
      problems.push({
        file,
        path,
        message: `${formatPath(path)}: no object '${ref}' in the fixture (refer by key, userPrincipalName, id or displayName)`,
      });
      return undefined;
    }
    if (!kinds.includes(o.kind)) {
      problems.push({
        file,
        path,
        message: `${formatPath(path)}: '${ref}' is a ${o.kind}, expected a ${kinds.join(' or ')}`,
      });
      return undefined;
    }
    return o;
  };
  const skuOf = (ref: string): SubscribedSku | undefined =>
    out.skus.find((s) => s.skuId === ref.toLowerCase() || s.skuPartNumber.toLowerCase() === ref.toLowerCase());
  const license = (raw: unknown, file: number, path: SpecPath): FixtureLicense | undefined => {
    const ref = typeof raw === 'string' ? raw : String(obj(raw)['sku'] ?? '');
    const sku = skuOf(ref);
    if (!sku) {
      problems.push({
        file,
        path,
        message: `${formatPath(path)}: unknown SKU '${ref}'${out.skus.length > 0 ? ` (subscribedSkus: ${out.skus.map((s) => s.skuPartNumber).join(', ')})` : ' (declare it under subscribedSkus)'}`,
      });
      return undefined;
    }
    const disabled: string[] = [];
    list(obj(raw)['disabledPlans']).forEach((p, j) => {
      const plan = sku.servicePlans.find(
        (sp) => sp.servicePlanId === String(p).toLowerCase() || sp.servicePlanName === p,
      );
      if (!plan)
        problems.push({
          file,
          path: [...path, 'disabledPlans', j],
          message: `${formatPath([...path, 'disabledPlans', j])}: SKU ${sku.skuPartNumber} has no service plan '${String(p)}'`,
        });
      else disabled.push(plan.servicePlanId);
    });
    return { skuId: sku.skuId, disabledPlans: disabled };
  };

  const raws = new Map<FixtureObject, Raw>();
  datas.forEach((d, fi) => {
    for (const section of ['users', 'groups', 'contacts'])
      list(d[section]).forEach((raw, i) => {
        const o = out.objects.find(
          (x) => where.get(x)!.file === fi && where.get(x)!.path[0] === section && where.get(x)!.path[1] === i,
        );
        if (o) raws.set(o, obj(raw));
      });
  });
  for (const o of out.objects) {
    const { file, path } = where.get(o)!;
    const r = raws.get(o)!;
    if (r['manager'] !== undefined) {
      const m = resolve(r['manager'], file, [...path, 'manager'], ['user', 'contact']);
      if (m === o)
        problems.push({
          file,
          path: [...path, 'manager'],
          message: `${formatPath([...path, 'manager'])}: an object can't be its own manager`,
        });
      else if (m) o.manager = m.id;
    }
    if (o.kind === 'group') {
      o.members = list(r['members'])
        .map((ref, j) => resolve(ref, file, [...path, 'members', j], ['user', 'group', 'contact'])?.id)
        .filter((x): x is string => x !== undefined);
      if (o.members.includes(o.id))
        problems.push({
          file,
          path: [...path, 'members'],
          message: `${formatPath([...path, 'members'])}: a group can't be a member of itself`,
        });
      o.owners = list(r['owners'])
        .map((ref, j) => resolve(ref, file, [...path, 'owners', j], ['user'])?.id)
        .filter((x): x is string => x !== undefined);
    }
    if (r['licenses'] !== undefined) {
      o.licenses = list(r['licenses'])
        .map((l, j) => license(l, file, [...path, 'licenses', j]))
        .filter((x): x is FixtureLicense => x !== undefined);
      // graph-facts-2 §7.2: Graph refuses assignLicense for a user without usageLocation.
      if (o.kind === 'user' && o.licenses.length > 0 && typeof r['usageLocation'] !== 'string') {
        problems.push({
          file,
          path: [...path, 'licenses'],
          message: `${formatPath([...path, 'licenses'])}: a user with licences needs usageLocation (Graph refuses assignLicense without it)`,
        });
      }
    }
    for (const [name, value] of Object.entries(o.ext)) {
      const ext = out.extensions.find((e) => e.name === name);
      const target = o.kind === 'user' ? 'User' : 'Group';
      const p = [...path, 'extensions', name];
      if (!ext)
        problems.push({
          file,
          path: p,
          at: 'key',
          message: `${formatPath(p)}: no directory extension '${name}' is declared under extensions`,
        });
      else if (!ext.targetObjects.includes(target))
        problems.push({
          file,
          path: p,
          at: 'key',
          message: `${formatPath(p)}: extension '${name}' doesn't target ${target}`,
        });
      else if (!extensionValueOk(ext.dataType, ext.isMultiValued, value))
        problems.push({
          file,
          path: p,
          message: `${formatPath(p)}: not a ${ext.isMultiValued ? 'list of ' : ''}${ext.dataType} value`,
        });
    }
  }
  datas.forEach((d, fi) => {
    list(d['directoryRoles']).forEach((raw, i) => {
      const r = obj(raw);
      const path: SpecPath = ['directoryRoles', i];
      let templateId = typeof r['roleTemplateId'] === 'string' ? r['roleTemplateId'].toLowerCase() : undefined;
      if (templateId === undefined) {
        const hit = Object.entries(ROLE_TEMPLATES).find(
          ([, t]) => t.displayName.toLowerCase() === String(r['displayName'] ?? '').toLowerCase(),
        );
        if (!hit) {
          problems.push({
            file: fi,
            path: [...path, r['displayName'] === undefined ? 'members' : 'displayName'],
            message: `${formatPath(path)}: unknown role '${String(r['displayName'] ?? '')}': give its roleTemplateId (known by name: ${Object.values(
              ROLE_TEMPLATES,
            )
              .map((t) => t.displayName)
              .join(', ')})`,
          });
          return;
        }
        templateId = hit[0];
      }
      const members = list(r['members'])
        .map((ref, j) => resolve(ref, fi, [...path, 'members', j], ['user', 'group'])?.id)
        .filter((x): x is string => x !== undefined);
      out.roles.push({
        ...(typeof r['displayName'] === 'string' ? { displayName: r['displayName'] } : {}),
        roleTemplateId: templateId,
        members,
      });
    });
  });
  return out;
}

/** Reads and parses fixture files; a missing file is one error naming it. */
export async function loadFixtures(paths: string[]): Promise<TenantFixture> {
  const inputs: { file: string; text: string }[] = [];
  for (const file of paths) {
    try {
      inputs.push({ file, text: await readFile(file, 'utf8') });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new AdsyncError(
        'fixture_not_found',
        `cannot read fixture ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`,
        { hint: 'paths in --fixture are relative to the current directory; in a spec, to the spec' },
      );
    }
  }
  return parseFixtures(inputs);
}

/**
 * Loads a parsed fixture into a fresh store. Graph's write rules are bypassed (this is the tenant as it is),
 * but not its invariants: UPNs in verified domains, unique addresses and anchors. Throws Error on a clash with
 * the emulator's own settings (e.g. a UPN in a domain that isn't verified).
 */
export function applyFixture(store: Store, f: TenantFixture, now = Date.now()): void {
  const c = store.config;
  for (const d of f.domains) if (d !== c.initialDomain && !c.domains.includes(d)) c.domains.push(d);
  if (f.displayName) c.tenantDisplayName = f.displayName;
  if (f.directorySync) {
    c.dirSync = {
      enabled: f.directorySync.enabled,
      lastSyncDateTime: f.directorySync.lastSyncDateTime ?? isoSeconds(now),
      features: { ...f.directorySync.features },
      alertThreshold: f.directorySync.alertThreshold ?? 500,
    };
  }
  if (f.grantedPermissions !== undefined && f.grantedPermissions.length > 0) {
    const client = store.applications.get(c.appObjectId);
    if (client !== undefined)
      client.roles = [...new Set([...(client.roles ?? DEFAULT_ROLES), ...f.grantedPermissions])];
  }
  c.skus = f.skus.map((s) => ({ ...s, accountId: c.tenantId, accountName: c.tenantDisplayName }));
  const verified = [c.initialDomain, ...c.domains];
  const extFull = new Map<string, string>();
  for (const e of f.extensions) {
    let app: Application | undefined = e.appId
      ? [...store.applications.values()].find((a) => a.appId.toLowerCase() === e.appId)
      : store.applications.get(c.appObjectId);
    if (!app) {
      app = {
        id: randomUUID(),
        appId: e.appId!,
        displayName: e.appDisplayName ?? 'Tenant Schema Extension App',
        createdDateTime: isoSeconds(now),
        secrets: [],
      };
      store.applications.set(app.id, app);
    }
    const full = `extension_${app.appId.replace(/-/g, '').toLowerCase()}_${e.name}`;
    extFull.set(e.name, full);
    store.registerExtension({
      id: randomUUID(),
      name: full,
      dataType: e.dataType,
      isMultiValued: e.isMultiValued,
      isSyncedFromOnPremises: e.isSyncedFromOnPremises,
      targetObjects: e.targetObjects,
      appDisplayName: app.displayName,
      appObjectId: app.id,
    });
  }
  const created: DirObject[] = [];
  for (const fo of f.objects) {
    const props: Record<string, unknown> = { ...fo.props };
    for (const [k, v] of Object.entries(fo.ext)) props[extFull.get(k)!] = v;
    props['createdDateTime'] ??= isoSeconds(now);
    if (fo.kind === 'user') {
      const upn = String(props['userPrincipalName']);
      const domain = upn.slice(upn.indexOf('@') + 1).toLowerCase();
      if (!verified.includes(domain))
        throw new Error(
          `fixture: ${upn} is not in a verified domain of the tenant (${verified.join(', ')}): add ${domain} under tenant.domains`,
        );
      props['accountEnabled'] ??= true;
      props['mailNickname'] ??= upn.slice(0, upn.indexOf('@'));
      props['userType'] ??= 'Member';
      props['securityIdentifier'] ??= sid(now);
    }
    if (fo.kind === 'group') {
      props['groupTypes'] ??= [];
      props['securityEnabled'] ??= true;
      props['mailEnabled'] ??= false;
      props['mailNickname'] ??=
        String(props['displayName'])
          .replace(/[^A-Za-z0-9_-]/g, '')
          .slice(0, 64) || 'group';
      if ((props['groupTypes'] as string[]).includes('Unified')) {
        props['mail'] ??= `${String(props['mailNickname'])}@${c.initialDomain}`;
        props['visibility'] ??= 'Public';
      }
      props['securityIdentifier'] ??= sid(now);
    }
    if (typeof props['mail'] === 'string' && props['proxyAddresses'] === undefined)
      props['proxyAddresses'] = [`SMTP:${props['mail']}`];
    if (fo.cloudManaged) {
      // graph-facts-2 §2.3: converted to cloud → isCloudManaged true, onPremisesSyncEnabled null.
      props['onPremisesSyncBehavior'] = { isCloudManaged: true };
      delete props['onPremisesSyncEnabled'];
    }
    const o = store.newObject(fo.kind, props);
    if (store.get(o.id)) throw new Error(`fixture: an object with id ${o.id} already exists in the tenant`);
    store.collection(fo.kind).add(o);
    store.registerAddresses(o);
    store.logChange({ kind: fo.kind, id: o.id });
    created.push(o);
  }
  for (const fo of f.objects) {
    if (fo.manager) store.setManager(fo.id, fo.manager);
    for (const m of fo.members ?? []) store.addMember(fo.id, store.get(m)!);
    for (const m of fo.owners ?? []) store.addOwner(fo.id, m);
  }
  for (const fo of f.objects) {
    if (!fo.licenses || fo.licenses.length === 0) continue;
    const o = store.get(fo.id)!;
    if (fo.kind === 'group') {
      o.props['assignedLicenses'] = fo.licenses.map((l) => ({ skuId: l.skuId, disabledPlans: l.disabledPlans }));
      o.props['licenseProcessingState'] = { state: 'ProcessingComplete' };
      for (const m of store.members.get(o.id) ?? [])
        if (store.users.byId.has(m)) store.refreshInheritedLicenses(m, now);
    } else {
      setLicenses(store, o, fo.licenses, [], now);
    }
  }
  for (const r of f.roles)
    seedRole(store, {
      roleTemplateId: r.roleTemplateId,
      ...(r.displayName ? { displayName: r.displayName } : {}),
      members: r.members,
    });
  c.fixtureDigest = f.digest;
  store.dirty = true;
  void created;
}
