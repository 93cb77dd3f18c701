/** ANSI styling, off when NO_COLOR is set or the stream is not a terminal. */
export interface Style {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
  /** For inline diffs without colour: [-removed-] and {+added+}, as `git diff --word-diff` writes them. */
  removed(s: string): string;
  added(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

export const COLOR: Style = {
  green: wrap(32, 39),
  red: wrap(31, 39),
  yellow: wrap(33, 39),
  cyan: wrap(36, 39),
  dim: wrap(2, 22),
  bold: wrap(1, 22),
  removed: (s) => `\u001b[9;31m${s}\u001b[29;39m`,
  added: wrap(32, 39),
};

const id = (s: string) => s;
export const PLAIN: Style = {
  green: id,
  red: id,
  yellow: id,
  cyan: id,
  dim: id,
  bold: id,
  removed: (s) => `[-${s}-]`,
  added: (s) => `{+${s}+}`,
};

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return PLAIN;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return COLOR;
  return stream.isTTY ? COLOR : PLAIN;
}
