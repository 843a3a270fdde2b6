/**
 * The CLI and the action wrappers are edges: domain code never imports them. scripts/ and tests/
 * are edges too and may import anything.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";

const SRC = path.join(REPO_ROOT, "actions", "src");

/** Every `.ts` file under the given repo folders, and the repo-relative files it imports. */
async function imports(folders: string[]): Promise<{ file: string; target: string }[]> {
  const out: { file: string; target: string }[] = [];
  for (const folder of folders) {
    const entries = await readdir(path.join(REPO_ROOT, folder), { recursive: true, withFileTypes: true });
    for (const e of entries) {
      if (!e.isFile() || !e.name.endsWith(".ts") || e.parentPath.includes("node_modules")) continue;
      const abs = path.join(e.parentPath, e.name);
      const text = await readFile(abs, "utf8");
      for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)) {
        out.push({
          file: path.relative(REPO_ROOT, abs),
          target: path.relative(REPO_ROOT, path.resolve(e.parentPath, m[1] as string)),
        });
      }
    }
  }
  return out;
}

const under = (file: string, folder: string) =>
  file.startsWith(`${path.relative(REPO_ROOT, path.join(SRC, folder))}/`);

describe("import layers", () => {
  it("nothing outside actions/src/cli/ imports the CLI", async () => {
    const upward = (await imports(["actions/src", "matrix", "reports"])).filter(
      (i) => under(i.target, "cli") && !under(i.file, "cli"),
    );
    expect(upward).toEqual([]);
  });

  it("nothing outside actions/src/action-runs/ and entries/ imports the action wrappers", async () => {
    const upward = (await imports(["actions/src", "matrix", "reports"])).filter(
      (i) => under(i.target, "action-runs") && !under(i.file, "action-runs") && !under(i.file, "entries"),
    );
    expect(upward).toEqual([]);
  });
});
