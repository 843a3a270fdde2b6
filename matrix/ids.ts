/**
 * Cell-id globs and the message for an unknown name. The cell id itself,
 * `model/recipe/backend/device@toolchain`, is spelled in actions/src/schemas/cell-id.ts.
 */
import type { CellRef } from "../actions/src/schemas/stage.ts";

/**
 * The literal (`*`-free) parts of a glob, by dimension, so a typo can be named; empty when the glob
 * does not spell all four parts (`**` spans parts, so its literal parts cannot be attributed).
 */
export function globParts(glob: string): Partial<Record<keyof CellRef, string>> {
  const [model, recipe, backend, rest, ...extra] = glob.split("/");
  if (rest === undefined || extra.length > 0 || glob.includes("**")) return {};
  const [device, toolchain] = rest.split("@");
  const parts = { model, recipe, backend, device, toolchain };
  return Object.fromEntries(
    Object.entries(parts).filter(([, p]) => p !== undefined && !/[*?]/.test(p)),
  ) as Partial<Record<keyof CellRef, string>>;
}

/**
 * A cell-id glob as a RegExp: `*` matches within one part (not across `/` or `@`), `**` matches
 * anything, `?` one character. `tiny-llama/*` alone matches nothing: a glob names all four parts.
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/@]*";
    else if (c === "?") re += "[^/@]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** "unknown recipe "x"; known recipes: a, b" — the message every bad name gets. */
export function unknownName(kind: string, name: string, known: Iterable<string>): string {
  return `unknown ${kind} ${JSON.stringify(name)}; known ${kind}s: ${[...known].join(", ") || "(none)"}`;
}
