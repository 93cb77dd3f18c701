import { randomBytes } from 'node:crypto';

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const DIGITS = '23456789';
const SYMBOLS = '!#%+-=?@^_~*';
const ALL = UPPER + LOWER + DIGITS + SYMBOLS;

// Random bytes are drawn in blocks: one randomBytes call per byte made 100,000 user creates spend
// seconds in the CSPRNG's per-call overhead.
let pool = Buffer.alloc(0);
let next = 0;

function randomByte(): number {
  if (next >= pool.length) {
    pool = randomBytes(4096);
    next = 0;
  }
  return pool[next++]!;
}

/** Uniform index in [0, n) from crypto.randomBytes, without modulo bias. */
function pick(n: number): number {
  const limit = 256 - (256 % n);
  for (;;) {
    const x = randomByte();
    if (x < limit) return x % n;
  }
}

/**
 * A strong initial password for a created user (Entra's policy: 8–256 characters, three of four
 * character classes). Users must change it at first sign-in; adsync never logs or returns it.
 */
export function randomPassword(length = 24): string {
  const chars = [UPPER, LOWER, DIGITS, SYMBOLS].map((set) => set[pick(set.length)]!);
  while (chars.length < length) chars.push(ALL[pick(ALL.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = pick(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
