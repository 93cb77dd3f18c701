import type { Plan } from '../model/plan.js';

/**
 * The saved-plan form (schemas/plan.schema.json), as a stream of lines: the envelope pretty-printed and
 * one change or report item per line, so a plan of a million memberships never becomes one huge string
 * and two plans diff line by line. Keys come in the order the types declare them: output is deterministic.
 */
export function* jsonLines(plan: Plan): Generator<string> {
  const { changes, reports, ...envelope } = plan;
  const head = JSON.stringify(envelope, null, 2);
  yield `${head.slice(0, -2)},`;
  yield* list('changes', changes, true);
  yield* list('reports', reports, false);
  yield '}';
}

function* list(name: string, items: readonly unknown[], more: boolean): Generator<string> {
  if (items.length === 0) {
    yield `  "${name}": []${more ? ',' : ''}`;
    return;
  }
  yield `  "${name}": [`;
  for (let i = 0; i < items.length; i++) yield `    ${JSON.stringify(items[i])}${i < items.length - 1 ? ',' : ''}`;
  yield `  ]${more ? ',' : ''}`;
}

export function renderJson(plan: Plan): string {
  return `${[...jsonLines(plan)].join('\n')}\n`;
}
