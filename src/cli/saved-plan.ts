/**
 * Reading a saved plan file: its bytes, its nesting, its schema (schemas/plan.schema.json). The rules that
 * decide whether it may be applied (stale, resumed, altered) are pure and live in src/engine/saved-plan.ts.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { AdsyncError } from '../errors.js';
import { jsonDepth } from './plan-file.js';
import type { Plan } from '../model/plan.js';

const MAX_PLAN_DEPTH = 64;

export async function readSavedPlan(path: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AdsyncError(
      'plan_unreadable',
      `cannot read the saved plan ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        hint: 'make one with `adsync plan --out PLAN.json`',
      },
    );
  }
  // Nothing nests deeper than a few levels in a plan: a hostile one must not overflow the stack later.
  const deep = jsonDepth(text, MAX_PLAN_DEPTH);
  if (deep !== undefined) {
    throw new AdsyncError(
      'plan_invalid',
      `${path} is not a saved adsync plan: it nests more than ${MAX_PLAN_DEPTH} levels deep (at byte ${deep.offset})`,
      { hint: 'make one with `adsync plan --out PLAN.json`' },
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new AdsyncError('plan_invalid', `${path} is not a saved adsync plan: ${(err as Error).message}`, {
      hint: 'make one with `adsync plan --out PLAN.json`',
    });
  }
  const problem = schemaProblem(data);
  if (problem !== undefined) {
    throw new AdsyncError('plan_invalid', `${path} is not a saved adsync plan (formatVersion 1): ${problem}`, {
      hint: 'make one with `adsync plan --out PLAN.json`; a saved plan is applied as written, never edited',
    });
  }
  return data as Plan;
}

let validator: ValidateFunction | undefined;

/** The first way `data` breaks schemas/plan.schema.json (the published contract), or undefined. */
function schemaProblem(data: unknown): string | undefined {
  if (validator === undefined) {
    const schema = JSON.parse(
      readFileSync(new URL('../../../schemas/plan.schema.json', import.meta.url), 'utf8'),
    ) as object;
    const ajv = new Ajv2020({ allErrors: false, strict: false });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    validator = ajv.compile(schema);
  }
  if (validator(data)) return undefined;
  const e = validator.errors?.[0];
  return e === undefined
    ? 'does not follow schemas/plan.schema.json'
    : `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`;
}
