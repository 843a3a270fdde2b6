/**
 * `SHA256SUMS` in GNU coreutils' format, so a person with only the downloaded assets and
 * `sha256sum -c SHA256SUMS` can check them without pte-farm. One line per file:
 * `<64 lowercase hex><space><space or *><name>\n` (`*` is coreutils' binary-mode marker, which
 * changes nothing on POSIX; we write text mode, and accept both). Lines are sorted by name so the
 * file is the same however the assets were listed.
 *
 * coreutils escapes names holding a backslash or a line break (the line then starts with `\`);
 * release asset names never contain either, so writing refuses them and reading refuses such lines.
 */
import { ConfigurationError } from "../core/errors.ts";

export interface SumEntry {
  name: string;
  sha256: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const LINE = /^([0-9a-f]{64}) ([ *])(.+)$/;

function byName(a: SumEntry, b: SumEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The file's text; a bad entry is our own bug (the names and hashes are ours), so it throws plainly. */
export function formatSums(entries: readonly SumEntry[]): string {
  const seen = new Set<string>();
  for (const e of entries) {
    if (!HEX64.test(e.sha256))
      throw new Error(`bug: sha256 of ${e.name} is not 64 lowercase hex: ${e.sha256}`);
    if (e.name === "" || /[\\\n\r]/.test(e.name))
      throw new Error(`bug: ${JSON.stringify(e.name)} cannot be listed`);
    if (seen.has(e.name)) throw new Error(`bug: ${e.name} is listed twice`);
    seen.add(e.name);
  }
  return [...entries]
    .sort(byName)
    .map((e) => `${e.sha256}  ${e.name}\n`)
    .join("");
}

/**
 * The entries of a SHA256SUMS text, by name. A malformed line, or a name listed twice, is an
 * error naming `source` and the line number: a checksum file we cannot read whole is not trusted
 * in part.
 */
export function parseSums(text: string, source = "SHA256SUMS"): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((line, i) => {
    const where = `${source}:${i + 1}`;
    if (line.endsWith("\r"))
      throw new ConfigurationError(`${where}: a CRLF line ending; expected "\\n" only`);
    const m = LINE.exec(line);
    if (m === null) {
      const shown = JSON.stringify(line.length > 100 ? `${line.slice(0, 97)}...` : line);
      throw new ConfigurationError(
        `${where}: expected "<64 lowercase hex sha256>  <file name>", got ${shown}`,
      );
    }
    const [, sha256 = "", , name = ""] = m;
    if (out.has(name)) throw new ConfigurationError(`${where}: ${name} is listed a second time`);
    out.set(name, sha256);
  });
  return out;
}
