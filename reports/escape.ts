/**
 * Escaping of untrusted text for GitHub markdown. Everything taken from a run record or an
 * artefact (model and cell names, error messages, log tails, device names) comes from a PR's
 * workflow, which a fork controls: it must render as the text it is, never as markup, a link,
 * raw HTML or a notification.
 *
 * One function per context, because GitHub parses each differently:
 * - {@link escapeInline}: markdown text (table cells, list items). Markdown punctuation is
 *   backslash-escaped; `<`, `>`, `&`, `"` and `|` become entities (a table splits rows on a raw
 *   `|` before backslashes are read, so the entity is the reliable form); newlines become spaces.
 * - {@link escapeHtml}: text inside raw HTML (`<summary>`), where backslashes are shown literally.
 * - {@link codeSpan} and {@link codeBlock}: code, where nothing is parsed but the closing
 *   delimiter, so the delimiter is made longer than any backtick run in the text.
 * - {@link mermaidString}: a label inside a mermaid chart (a whitelist of characters).
 * - {@link plainText}: issue titles and annotations, which GitHub shows as plain text.
 *
 * Mentions, issue references and bare links are GitHub post-processing on the rendered text, not
 * markdown, so escaping cannot stop them: a zero-width space (`&#8203;`) is inserted after `@`,
 * after `#` before a digit, inside `://` and after `www`. Dependabot and Renovate break mentions
 * in upstream release notes the same way (`@&#8203;user`). Inside code it is not needed (GitHub
 * leaves code alone) and would show literally, so code functions never insert it.
 */
import { ConfigurationError } from "../actions/src/core/errors.ts";

/** Zero-width space as an entity: invisible, and it breaks GitHub's mention/reference/link matching. */
export const ZWSP = "&#8203;";

const LINE_BREAK = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/g;
/**
 * C0/C1 controls (not tab or line breaks, handled apart), DEL, bidirectional overrides and
 * isolates (they reorder what a reader sees: "Trojan Source"), and the BOM.
 */
const CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Well-formed text with no control characters: lone surrogates and controls become U+FFFD (shown,
 * not silently dropped), line breaks become `\n` or, when `keepNewlines` is false, a space.
 */
export function cleanText(text: string, opts: { keepNewlines: boolean }): string {
  const s = text.toWellFormed().replace(CONTROL, "\ufffd");
  if (opts.keepNewlines) return s.replace(LINE_BREAK, "\n");
  return s.replace(LINE_BREAK, " ").replaceAll("\t", " ");
}

const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });

/**
 * At most `max` UTF-16 code units, cut between grapheme clusters (never inside a surrogate pair
 * or an emoji sequence), ending in "…" when something was cut.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = "";
  for (const { segment } of graphemes.segment(text)) {
    if (out.length + segment.length > max - 1) break;
    out += segment;
  }
  return `${out}…`;
}

/**
 * A prefix long enough to truncate to `max` after cleaning (which at most halves the length, CRLF
 * to LF), so a megabyte error message is not scanned whole to show 300 characters of it.
 */
function head(text: string, max: number): string {
  return text.length > 2 * max + 16 ? text.slice(0, 2 * max + 16) : text;
}

/**
 * The end of a long text (a log), at most `maxLines` lines and `maxChars` UTF-16 code units,
 * starting on a whole line when there is one to start on, and never inside a surrogate pair or
 * a combining sequence. `omitted` says how many lines were left out.
 */
export function tail(whole: string, maxLines: number, maxChars: number): { text: string; omitted: number } {
  const text = whole.replace(/\n+$/, "");
  const total = text.split("\n").length;
  let s = text.length > maxChars ? text.slice(text.length - maxChars) : text;
  if (s.length < text.length) {
    const nl = s.indexOf("\n");
    if (nl >= 0 && nl < s.length - 1) s = s.slice(nl + 1);
    // Still mid-line (one huge line): do not start on the second half of a character.
    s = s.replace(/^[\udc00-\udfff]/, "").replace(/^(?:\p{M}|\u200d|\ufe0e|\ufe0f)+/u, "");
  }
  const lines = s.split("\n");
  const kept = lines.length > maxLines ? lines.slice(lines.length - maxLines) : lines;
  return { text: kept.join("\n"), omitted: total - kept.length };
}

/** Inserts the zero-width space where GitHub would otherwise link or notify. */
function breakAutolinks(s: string, i: number): string {
  const c = s[i];
  const next = s[i + 1] ?? "";
  if (c === "@" && /[\p{L}\p{N}_-]/u.test(next)) return ZWSP;
  if (c === "#" && /[0-9]/.test(next)) return ZWSP;
  if (c === "-" && /[0-9]/.test(next) && /(^|[^\w])gh$/i.test(s.slice(Math.max(0, i - 3), i))) return ZWSP;
  if (c === ":" && s.startsWith("//", i + 1)) return ZWSP;
  if ((c === "w" || c === "W") && next === "." && /www$/i.test(s.slice(Math.max(0, i - 2), i + 1)))
    return ZWSP;
  return "";
}

const MARKDOWN_ENTITY: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "|": "&#124;",
  // GitHub's math: an entity is text after parsing, never a `$` delimiter.
  $: "&#36;",
};
/** Punctuation that starts or ends inline markup (`~` is strikethrough, `!` an image, `#` a heading). */
const MARKDOWN_PUNCT = new Set(["\\", "`", "*", "_", "[", "]", "!", "~", "#"]);

/**
 * Untrusted text as inline markdown: one line (a table cell stays a cell), at most `max` code
 * units before escaping, no markup, HTML, mention, reference or link. Block syntax that only
 * matters at the start of a line (`- `, `+ `, `1. `, `= `) is escaped too, so the result can
 * also start a list item.
 */
export function escapeInline(text: string, max = 300): string {
  const s = truncate(cleanText(head(text, max), { keepNewlines: false }).trim(), max);
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    const entity = MARKDOWN_ENTITY[c];
    out += entity ?? (MARKDOWN_PUNCT.has(c) ? `\\${c}` : c);
    out += breakAutolinks(s, i);
  }
  // A leading "-", "+" or "=" (list, thematic break, setext heading) and "12. " (ordered list).
  return out.replace(/^[-+=]/, "\\$&").replace(/^(\d{1,9})([.)])(?=\s|$)/, "$1\\$2");
}

const HTML_ENTITY: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Untrusted text inside raw HTML (a `<summary>`): entities only, since markdown is not parsed
 * there. `code: true` is for text inside a `<code>` element, which GitHub does not scan for
 * mentions, so nothing is inserted and the text stays copy-pasteable.
 */
export function escapeHtml(text: string, max = 300, opts: { code?: boolean } = {}): string {
  const s = truncate(cleanText(head(text, max), { keepNewlines: false }).trim(), max);
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    out += HTML_ENTITY[c] ?? c;
    if (!opts.code) out += breakAutolinks(s, i);
  }
  return out;
}

function longestBacktickRun(s: string): number {
  let longest = 0;
  for (const m of s.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return longest;
}

/**
 * Untrusted text as an inline code span (cell ids, commands: copy-pasteable, nothing inserted).
 * In a table a `|` still splits the row inside a code span, so `table: true` escapes it as `\|`,
 * which GitHub removes again before rendering the code.
 */
export function codeSpan(text: string, opts: { table?: boolean; max?: number } = {}): string {
  let s = truncate(cleanText(head(text, opts.max ?? 300), { keepNewlines: false }), opts.max ?? 300);
  if (s === "") return "";
  if (opts.table) s = s.replaceAll("|", "\\|");
  const fence = "`".repeat(longestBacktickRun(s) + 1);
  const pad = /^[` ]|[` ]$/.test(s) ? " " : "";
  return `${fence}${pad}${s}${pad}${fence}`;
}

/**
 * Untrusted text as a fenced code block, with a fence longer than any backtick run inside so the
 * text cannot close it. Start it on its own line, outside any list, after a blank line.
 */
export function codeBlock(text: string, lang = ""): string {
  const s = cleanText(text, { keepNewlines: true }).replace(/\n+$/, "");
  const fence = "`".repeat(Math.max(3, longestBacktickRun(s) + 1));
  const info = /^[A-Za-z0-9_+-]{0,20}$/.test(lang) ? lang : "";
  return `${fence}${info}\n${s}\n${fence}`;
}

/**
 * A label for a mermaid chart, quoted. Mermaid has its own syntax inside quotes (`#quot;`
 * entities, `%%` directives) and no escape, so only letters, digits, spaces and `._:/+@-` pass;
 * anything else becomes `_`.
 */
export function mermaidString(text: string, max = 40): string {
  const s = truncate(cleanText(head(text, max), { keepNewlines: false }).trim(), max).replace(
    /[^\p{L}\p{N} ._:/+@…-]/gu,
    "_",
  );
  return `"${s}"`;
}

/**
 * Text GitHub shows without rendering (issue titles, annotation titles and messages): well
 * formed, no controls, whitespace collapsed unless `keepNewlines`, at most `max` code units.
 */
export function plainText(text: string, max: number, opts: { keepNewlines?: boolean } = {}): string {
  const keep = opts.keepNewlines ?? false;
  let s = cleanText(head(text, max), { keepNewlines: keep });
  s = keep ? s.replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n") : s.replace(/\s+/g, " ");
  return truncate(s.trim(), max);
}

/**
 * An http(s) URL made safe for a markdown link target: parentheses, quotes and pipes are
 * percent-encoded so the URL cannot end the link or a table cell. Anything else throws.
 */
export function safeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(
      `${JSON.stringify(url)} is not a URL; expected an http(s) link such as a run URL`,
    );
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new ConfigurationError(`${JSON.stringify(url)}: only http and https links are rendered`);
  }
  return parsed.href.replace(
    /[()'"|<> `\\]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
}

/** A markdown link with untrusted text and a checked URL. */
export function link(text: string, url: string): string {
  return `[${escapeInline(text, 120)}](${safeUrl(url)})`;
}

/** A commit sha as a short code span when it looks like one; anything else is escaped text. */
export function shortSha(sha: string | null | undefined): string {
  if (sha === null || sha === undefined || sha === "") return "unknown";
  return /^[0-9a-f]{7,64}$/i.test(sha)
    ? `\`${sha.slice(0, 7)}\``
    : `\`${sha.slice(0, 20).replace(/[^\w.-]/g, "_")}\``;
}
