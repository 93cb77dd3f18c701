/**
 * The published JSON Schema (schemas/adsync.schema.json), compiled once with ajv, and the facts other parts
 * of the spec code read from it (writable Graph properties per object kind), so the schema stays the one truth.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ObjectKind } from '../model/target.js';
import { AdsyncError } from '../errors.js';

/** dist/src/spec/schema.js → ../../../schemas; src/spec/schema.ts (when run from source) → ../../schemas. */
function readSchema(): Record<string, unknown> {
  const candidates = ['../../../schemas/adsync.schema.json', '../../schemas/adsync.schema.json'];
  let lastErr: unknown;
  for (const rel of candidates) {
    try {
      return JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as Record<string, unknown>;
    } catch (err) {
      lastErr = err;
    }
  }
  throw new AdsyncError('internal', `cannot read schemas/adsync.schema.json: ${String(lastErr)}`, {
    hint: 'the installation is incomplete: reinstall adsync',
  });
}

export const SPEC_SCHEMA: Record<string, unknown> = readSchema();

/** `x-messages`: per-keyword messages the schema gives for its own nodes (e.g. the literal-secret message). */
export const MESSAGES_KEYWORD = 'x-messages';

let compiled: ValidateFunction | undefined;
export function schemaValidator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({
      allErrors: true,
      verbose: true,
      discriminator: true,
      allowUnionTypes: true,
      strict: true,
      strictRequired: false,
    });
    ajv.addKeyword({ keyword: MESSAGES_KEYWORD, schemaType: 'object' });
    compiled = ajv.compile(SPEC_SCHEMA);
  }
  return compiled;
}

export type SchemaError = ErrorObject;

interface FlowsSchema {
  properties?: Record<string, unknown>;
  patternProperties?: Record<string, unknown>;
}

function flowsSchema(kind: ObjectKind): FlowsSchema {
  const objects = (
    SPEC_SCHEMA['properties'] as Record<string, { properties: Record<string, { properties: { flows: FlowsSchema } }> }>
  )['objects'];
  const rule = objects?.properties[kind];
  if (!rule) throw new AdsyncError('internal', `schema has no objects.${kind}`);
  return rule.properties.flows;
}

/** Graph properties a flow may write for an object kind, as the schema lists them. */
export function writableProperties(kind: ObjectKind): string[] {
  return Object.keys(flowsSchema(kind).properties ?? {});
}

/** Whether `name` is a property a flow may write for `kind` (a listed one or a directory extension). */
export function isWritableProperty(kind: ObjectKind, name: string): boolean {
  const s = flowsSchema(kind);
  if (s.properties && Object.hasOwn(s.properties, name)) return true;
  return Object.keys(s.patternProperties ?? {}).some((p) => new RegExp(p).test(name));
}
