/**
 * The committed action metadata and bundles: each action.yml says exactly what actions/src/action-runs/io-table.ts says,
 * the bundles are what the build script builds (a stale one fails `make test`), and a bundle runs
 * on its own the way the runner starts it (`node dist/index.js` with INPUT_* and GITHUB_OUTPUT).
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ACTION_NAMES, ACTIONS, type ActionSpec } from "../actions/src/action-runs/io-table.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { planOutputs } from "../actions/src/plan/outputs.ts";
import { ENTRIES, generate, staleFiles } from "../scripts/build-actions.ts";
import { tempDir } from "./helpers/env.ts";

const SCRIPT = path.join(REPO_ROOT, "scripts", "build-actions.ts");

/** `key<<DELIM\nvalue\nDELIM` and `key=value` lines, as @actions/core writes $GITHUB_OUTPUT. */
function parseGithubOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc !== null) {
      const end = lines.indexOf(heredoc[2] as string, i + 1);
      out[heredoc[1] as string] = lines.slice(i + 1, end).join("\n");
      i = end;
    } else if (line.includes("=")) out[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
  }
  return out;
}

describe("action metadata", () => {
  it("has one action folder per action in io-table.ts, each with a bundle entry", async () => {
    const folders = (await readdir(path.join(REPO_ROOT, "actions"), { withFileTypes: true }))
      .filter((d) => d.isDirectory() && d.name !== "src")
      .map((d) => d.name)
      .sort();
    expect(folders).toEqual([...ACTION_NAMES].sort());
    expect(Object.keys(ENTRIES).sort()).toEqual([...ACTION_NAMES].sort());
    for (const entry of Object.values(ENTRIES))
      expect(existsSync(path.join(REPO_ROOT, entry)), entry).toBe(true);
  });

  it.each(ACTION_NAMES)(
    "actions/%s/action.yml declares exactly action-io's inputs and outputs and runs its bundle on node24",
    async (name) => {
      const yml = parseYaml(await readFile(path.join(REPO_ROOT, "actions", name, "action.yml"), "utf8"));
      const spec: ActionSpec = ACTIONS[name];
      expect(yml.name).toBe(spec.name);
      expect(yml.runs).toEqual({ using: "node24", main: "dist/index.js" });
      expect(Object.keys(yml.inputs)).toEqual(Object.keys(spec.inputs));
      for (const [key, input] of Object.entries(spec.inputs)) {
        expect(yml.inputs[key], key).toEqual({
          description: input.description,
          required: input.required ?? false,
          ...(input.default === undefined ? {} : { default: input.default }),
        });
        // A required input with a default would never be missing, so "required" would be a lie.
        expect(input.required === true && input.default !== undefined, key).toBe(false);
      }
      expect(Object.keys(yml.outputs)).toEqual(Object.keys(spec.outputs));
    },
  );
});

describe("action bundles", () => {
  it("are what scripts/build-actions.ts builds: `--check` passes on the committed files", async () => {
    const res = await execa(process.execPath, [SCRIPT, "--check"], { reject: false, all: true });
    expect(res.exitCode, res.all).toBe(0);
  });

  it("the check lists a bundle that differs from the build as stale, and a dist file no action builds", async () => {
    const files = await generate();
    const root = await tempDir();
    for (const [rel, text] of files) {
      await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await writeFile(path.join(root, rel), text);
    }
    expect(await staleFiles(files, root)).toEqual([]);
    await writeFile(
      path.join(root, "actions/gate/dist/index.js"),
      `${files.get("actions/gate/dist/index.js")}\n// edit`,
    );
    await writeFile(path.join(root, "actions/plan/dist/old.js"), "");
    expect(await staleFiles(files, root)).toEqual([
      "stale: actions/gate/dist/index.js",
      "not generated: actions/plan/dist/old.js",
    ]);
  });

  // 1.5 MiB: the actions that read a history store (plan, health, report) carry the PostgreSQL
  // client (pg, ~150 KB); undici (~0.8 MB, only for getIDToken) would still push any over.
  it("stay self-contained and under 1.5 MiB each: the HTTP client only getIDToken needs is left out", async () => {
    for (const name of ACTION_NAMES) {
      const file = path.join(REPO_ROOT, "actions", name, "dist", "index.js");
      expect((await stat(file)).size, name).toBeLessThan(1.5 * 2 ** 20);
      const text = await readFile(file, "utf8");
      expect(text).not.toContain("node_modules/undici");
      const imported = [...text.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1] as string);
      expect(imported.filter((m) => !builtinModules.includes(m.replace(/^node:/, "")))).toEqual([]);
    }
  });

  it("the plan bundle runs on its own as the runner starts it and writes the plan to $GITHUB_OUTPUT", async () => {
    const dir = await tempDir();
    const outputFile = path.join(dir, "output");
    await writeFile(outputFile, "");
    const res = await execa(process.execPath, [path.join(REPO_ROOT, "actions", "plan", "dist", "index.js")], {
      cwd: dir,
      reject: false,
      all: true,
      env: {
        INPUT_EVENT: "push",
        INPUT_MATRIX: DEFAULT_MATRIX,
        GITHUB_OUTPUT: outputFile,
        GITHUB_STEP_SUMMARY: "",
      },
    });
    expect(res.exitCode, res.all).toBe(0);
    const outputs = parseGithubOutput(await readFile(outputFile, "utf8"));
    const expected = await planOutputs({
      matrix: DEFAULT_MATRIX,
      event: "push",
      logger: new RecordingLogger(),
    });
    expect(JSON.parse(outputs.devices as string)).toEqual(expected.devices);
    expect(outputs.cell_set).toBe("host");
  });

  it("the compare bundle fails as bad input with exit 2 when a required input is missing", async () => {
    const res = await execa(
      process.execPath,
      [path.join(REPO_ROOT, "actions", "compare", "dist", "index.js")],
      {
        cwd: await tempDir(),
        reject: false,
        all: true,
        env: { INPUT_BASE: "base.json" },
      },
    );
    expect(res.exitCode).toBe(2);
    expect(res.all).toContain("::error::pte-farm compare: bad input: input head is required");
  });
});
