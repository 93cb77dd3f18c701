/** Freezes a value and everything it reaches (Maps and Sets included): a write to it then throws. */
export function deepFreeze<T>(v: T, seen = new Set<unknown>()): T {
  if (typeof v !== 'object' || v === null || seen.has(v) || ArrayBuffer.isView(v)) return v;
  seen.add(v);
  if (v instanceof Map)
    for (const [k, x] of v) {
      deepFreeze(k, seen);
      deepFreeze(x, seen);
    }
  else if (v instanceof Set) for (const x of v) deepFreeze(x, seen);
  else for (const x of Object.values(v)) deepFreeze(x, seen);
  return Object.freeze(v);
}
