/**
 * Directory values are attacker-controlled (a user may edit their own streetAddress in AD): printed raw,
 * terminal escape codes, carriage returns, newlines and bidirectional overrides in them could hide a delete
 * or print a fake summary. Every string a renderer takes from a directory or a spec goes through here.
 *
 * Unsafe: C0 controls, DEL, C1 controls (U+0080–U+009F, incl. the 8-bit CSI U+009B), zero-width and bidi
 * marks, embeddings, overrides and isolates (U+061C, U+200B–U+200F, U+202A–U+202E, U+2066–U+2069), the line
 * and paragraph separators (U+2028, U+2029), word joiner and invisible operators (U+2060–U+2064), the BOM
 * (U+FEFF) and interlinear annotations (U+FFF9–U+FFFB).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');
/** Lone surrogates (ill-formed UTF-16) can't be written as text either. */
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATE = new RegExp(LONE.source, 'g');

export function hasUnsafe(s: string): boolean {
  return UNSAFE.test(s) || LONE.test(s);
}

const hex4 = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

function escapeChar(c: string): string {
  switch (c) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return hex4(c);
  }
}

/** The characters of `s` with every unsafe one written as a visible escape (`\n`, `\u001b`, `\u202e`). */
export function escapeUnsafe(s: string): string {
  return s.replace(UNSAFE_ALL, escapeChar).replace(LONE_SURROGATE, hex4);
}

/**
 * A label, DN or reason as printed: unchanged when safe; otherwise quoted with its unsafe characters (and
 * quotes and backslashes) escaped, so it can't pass for a line of the plan nor for a safe label.
 */
export function safeText(s: string): string {
  if (!hasUnsafe(s)) return s;
  return `"${escapeUnsafe(s.replace(/[\\"]/g, (c) => `\\${c}`))}"`;
}

/** A value as a JSON literal, with the unsafe characters JSON leaves as they are (bidi, C1, U+2028) escaped too. */
export function quoteValue(v: unknown): string {
  return escapeUnsafe(JSON.stringify(v) ?? 'null');
}

/** The inside of a quoted literal (for a word diff's pieces). */
export function quoteBody(s: string): string {
  return quoteValue(s).slice(1, -1);
}
