/**
 * GitHub's size limits, applied before sending so a long report is shortened visibly instead of
 * being refused with a 422. Cuts never split a character (a surrogate pair, or a UTF-8 sequence).
 */

/** Check run `output.summary` and `output.text`: 65535 characters. */
export const CHECK_OUTPUT_LIMIT = 65535;

const NOTE = "\n\n… (truncated: the full text is in the workflow run's artifacts)";

/**
 * `text` cut to at most `limit` UTF-16 code units, ending with a note saying so. GitHub counts
 * characters (code points), of which there are never more than code units, so this is safe.
 */
export function clipChars(text: string, limit: number, note = NOTE): string {
  if (text.length <= limit) return text;
  const room = Math.max(limit - note.length, 0);
  let cut = room;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return `${text.slice(0, cut)}${note.slice(0, limit - cut)}`;
}

/** `text` cut to at most `limit` UTF-8 bytes (annotation messages are limited to 64 KB). */
export function clipBytes(text: string, limit: number): string {
  if (Buffer.byteLength(text, "utf8") <= limit) return text;
  const marker = "…";
  let bytes = Buffer.byteLength(marker, "utf8");
  let out = "";
  for (const ch of text) {
    const size = Buffer.byteLength(ch, "utf8");
    if (bytes + size > limit) break;
    bytes += size;
    out += ch;
  }
  return `${out}${marker}`;
}
