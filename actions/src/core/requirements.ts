/** Pins files (`stages/requirements.txt`): the lines, and the package each names. */
import { readFile } from "node:fs/promises";

/** PEP 503 normalised name: what pip compares (`Huggingface_Hub` is `huggingface-hub`). */
export function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/** `name==1.2.3` / `name>=1` / `name` → the normalised name (extras and markers dropped). */
export function requirementName(line: string): string | null {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(line);
  return m?.[1] === undefined ? null : normalize(m[1]);
}

/** The requirement lines of a pins file (comments and blank lines dropped). */
export async function pinLines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8"))
    .split("\n")
    .map((l) => l.replace(/#.*$/, "").trim())
    .filter((l) => l !== "");
}
