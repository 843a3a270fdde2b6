/**
 * Just enough version comparison for the known-issue catalogue: ranges like ">=1.2.0 <1.4.0",
 * "==2.11.0" or "*", over Python package versions such as "2.13.0+cpu" or "1.4.0.dev20260101".
 *
 * Surprising on purpose: the local part (`+cpu`) is ignored, so "2.11.0+cpu" satisfies "==2.11.0";
 * a pre-release or dev build sorts before its release ("1.4.0.dev1" < "1.4.0"), as in PEP 440.
 */

interface Parsed {
  release: number[];
  /** 0 for a final release, -1 for any pre/dev/rc suffix (enough to order "1.4.0rc1" < "1.4.0"). */
  pre: number;
}

/** Returns null for text that does not start with a dotted number. */
export function parseVersion(text: string): Parsed | null {
  const m = /^v?(\d+(?:\.\d+)*)(.*)$/.exec(text.trim().split("+")[0] ?? "");
  if (m === null) return null;
  const release = (m[1] ?? "").split(".").map(Number);
  const rest = (m[2] ?? "").replace(/^[.-]/, "");
  const pre = rest === "" || /^post\d*$/.test(rest) ? 0 : -1;
  return { release, pre };
}

export function compareVersions(a: Parsed, b: Parsed): number {
  const n = Math.max(a.release.length, b.release.length);
  for (let i = 0; i < n; i++) {
    const d = (a.release[i] ?? 0) - (b.release[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return Math.sign(a.pre - b.pre);
}

const OPS = {
  ">=": (c: number) => c >= 0,
  "<=": (c: number) => c <= 0,
  ">": (c: number) => c > 0,
  "<": (c: number) => c < 0,
  "==": (c: number) => c === 0,
  "!=": (c: number) => c !== 0,
} as const;

/** Whether a range string is well formed (for validating the catalogue when it is loaded). */
export function isValidRange(range: string): boolean {
  if (range.trim() === "*") return true;
  const parts = range.trim().split(/\s+/);
  return (
    parts.length > 0 &&
    parts.every((p) => /^(>=|<=|==|!=|>|<)\d/.test(p) && parseVersion(p.replace(/^[<>=!]+/, "")) !== null)
  );
}

/** True when `version` satisfies every comparator of `range` (space-separated, all must hold). */
export function satisfies(version: string, range: string): boolean {
  if (range.trim() === "*") return true;
  const v = parseVersion(version);
  if (v === null) return false;
  return range
    .trim()
    .split(/\s+/)
    .every((part) => {
      const m = /^(>=|<=|==|!=|>|<)(.+)$/.exec(part);
      const bound = m?.[2] === undefined ? null : parseVersion(m[2]);
      if (m === null || bound === null) return false;
      return OPS[m[1] as keyof typeof OPS](compareVersions(v, bound));
    });
}
