/** "Did you mean" for unknown keys and values: the nearest candidate by edit distance, if it is near enough. */
import { distance } from 'fastest-levenshtein';

export function nearest(input: string, candidates: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    // Case differences are the most common slip (displayname vs displayName): make them nearly free.
    const score = c.toLowerCase() === lower ? 0.5 : distance(lower, c.toLowerCase());
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  // Near enough: about a third of the word may be wrong, at least one edit, at most four.
  const limit = Math.min(4, Math.max(1, Math.floor(input.length / 3)));
  if (best !== undefined && bestScore <= limit) return best;
  // A truncated name (sharepoint → sharepoint-online): the shortest candidate that starts with it.
  if (lower.length >= 3) {
    const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(lower)).sort((a, b) => a.length - b.length);
    if (prefixed[0] !== undefined) return prefixed[0];
  }
  return undefined;
}

/** `; did you mean 'x'?` or the empty string. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const s = nearest(input, candidates);
  return s === undefined ? '' : `; did you mean '${s}'?`;
}
