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
  return best !== undefined && bestScore <= limit ? best : undefined;
}

/** `; did you mean 'x'?` or the empty string. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const s = nearest(input, candidates);
  return s === undefined ? '' : `; did you mean '${s}'?`;
}
