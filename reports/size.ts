/**
 * How big a body is, the way GitHub might count it. GitHub documents a 65,536 "character" limit on
 * issue and comment bodies but not the unit: its validator counts characters, the storage below it
 * may count bytes, and the web editor turns `\n` into `\r\n`. {@link githubSize} is an upper bound
 * for all of these at once: UTF-8 bytes (never fewer than code points or UTF-16 code units, since a
 * character takes 1–4 bytes but at most 2 code units) plus one for every `\n`.
 */

/** GitHub's limit on an issue body or a comment ("Body is too long (maximum is 65536 characters)"). */
export const GITHUB_BODY_LIMIT = 65_536;

/** What a PR comment or issue body may use, in {@link githubSize} units: the limit less a margin. */
export const COMMENT_BUDGET = 65_000;

/** A step's job summary may be at most 1 MiB; the same unit, the same margin idea. */
export const JOB_SUMMARY_BUDGET = 1024 * 1024 - 4096;

/** UTF-8 bytes + line feeds: see the file comment for why this bounds every way of counting. */
export function githubSize(text: string): number {
  let lf = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lf++;
  return Buffer.byteLength(text, "utf8") + lf;
}

/**
 * Keeps the most important items of a list within a budget: items are tried in order and kept
 * while they fit (each costs its size plus `separator`). Whole items only, so a cut never falls
 * inside a tag, a fence or a character. Returns how many were kept.
 */
export function fitCount(items: readonly string[], budget: number, separator = "\n"): number {
  let used = 0;
  const sep = githubSize(separator);
  for (let i = 0; i < items.length; i++) {
    used += githubSize(items[i] as string) + sep;
    if (used > budget) return i;
  }
  return items.length;
}
