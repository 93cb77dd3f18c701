import type { Plan } from '../model/plan.js';

/** The saved-plan form (schemas/plan.schema.json). Stable: keys are written in the order the types declare. */
export function renderJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
