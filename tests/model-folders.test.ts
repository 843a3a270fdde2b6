/**
 * Model folders are checked by the toolchain's own loaders before any stage starts
 * (actions/src/pipeline/model-folders.ts, stages/pte_stages/probes/model_folder.py): each broken copy
 * of the shipped model names the file and what is wrong, and `run` and `validate` exit 2 on one
 * without starting a stage. Real transformers, safetensors and tokenizers; nothing mocked.
 */
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { type FolderModel, probeModelFolders } from "../actions/src/pipeline/model-folders.ts";
import { hasRealPython, realPython, TINY_LLAMA, tempDir } from "./helpers/env.ts";

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
const SMALL_CNN = path.join(REPO_ROOT, "stages", "models", "small-cnn");
const PROMPT = "The capital of France is";

/** The broken copies, made once for the file (tempDir's folders go after each test). */
let root = "";

/** A copy of the shipped model, changed by `edit`, in a fresh folder. */
async function brokenCopy(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = path.join(root, name);
  await cp(TINY_LLAMA, dir, { recursive: true });
  await edit(dir);
  return dir;
}

/** Rewrites the folder's safetensors with Python's safetensors (one tensor dropped or cut short). */
async function editWeights(dir: string, how: "drop" | "shrink"): Promise<void> {
  const script = [
    "import sys",
    "from safetensors.torch import load_file, save_file",
    "p = sys.argv[1] + '/model.safetensors'",
    "d = load_file(p)",
    "k = sorted(k for k in d if k.endswith('mlp.down_proj.weight'))[-1]",
    "print(k)",
    "if sys.argv[2] == 'shrink': d[k] = d[k][:-1].contiguous()",
    "else: del d[k]",
    "save_file(d, p, metadata={'format': 'pt'})",
  ].join("\n");
  await execa(realPython, ["-c", script, dir, how]);
}

const lm = (name: string, dir: string, over: Partial<FolderModel> = {}): FolderModel => ({
  name,
  kind: "decoder-lm",
  path: dir,
  prompts: [PROMPT],
  max_new_tokens: 8,
  max_seq_len: 128,
  ...over,
});

async function cli(...args: string[]) {
  return execa(process.execPath, [CLI, ...args], { reject: false, cwd: REPO_ROOT, all: true });
}

/** The shipped matrix with tiny-llama's folder pointed at `dir`. */
async function matrixFor(dir: string): Promise<string> {
  const text = (await readFile(DEFAULT_MATRIX, "utf8")).replace(
    "path: stages/models/tiny-llama",
    `path: ${dir}`,
  );
  const file = path.join(await tempDir(), "farm.yml");
  await writeFile(file, text);
  return file;
}

describe.runIf(hasRealPython)("model folders are loaded before any stage starts", () => {
  let found: Awaited<ReturnType<typeof probeModelFolders>>;
  const dirs: Record<string, string> = {};

  afterAll(() => rm(root, { recursive: true, force: true }));

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "pte-farm-folders-"));
    dirs.badJson = await brokenCopy("bad-json", async (d) => {
      const f = path.join(d, "config.json");
      await writeFile(f, (await readFile(f, "utf8")).replace("{", "{,"));
    });
    dirs.unknownType = await brokenCopy("unknown-type", async (d) => {
      const f = path.join(d, "config.json");
      const config = JSON.parse(await readFile(f, "utf8"));
      await writeFile(f, JSON.stringify({ ...config, model_type: "llama-from-the-future" }));
    });
    // A type transformers knows, with a layout the generic export path would get wrong (KV sharing):
    // the stages' architecture registry (stages/pte_stages/modeling/architectures.py) refuses it.
    dirs.needsEntry = await brokenCopy("needs-entry", async (d) => {
      const f = path.join(d, "config.json");
      const config = JSON.parse(await readFile(f, "utf8"));
      await writeFile(f, JSON.stringify({ ...config, model_type: "qwen2", num_kv_shared_layers: 1 }));
    });
    dirs.truncated = await brokenCopy("truncated", async (d) => {
      const f = path.join(d, "model.safetensors");
      const bytes = await readFile(f);
      await writeFile(f, bytes.subarray(0, bytes.length >> 1));
    });
    dirs.dropped = await brokenCopy("dropped", (d) => editWeights(d, "drop"));
    dirs.shrunk = await brokenCopy("shrunk", (d) => editWeights(d, "shrink"));
    dirs.badTokenizer = await brokenCopy("bad-tokenizer", async (d) => {
      await writeFile(path.join(d, "tokenizer.json"), '{"version": "1.0", "model": ');
    });
    found = await probeModelFolders(
      [
        lm("good", TINY_LLAMA),
        { name: "cnn", kind: "cnn", path: SMALL_CNN, prompts: [], max_new_tokens: 0, max_seq_len: 0 },
        lm("long-prompt", TINY_LLAMA, { prompts: [PROMPT.repeat(20)] }),
        ...Object.entries(dirs).map(([name, dir]) => lm(name, dir)),
      ],
      realPython,
    );
  }, 300_000);

  const problems = (name: string) => found.models.find((m) => m.name === name)?.problems ?? ["not checked"];

  it("passes the shipped folders and names each broken file with what is wrong", () => {
    expect(problems("good")).toEqual([]);
    expect(problems("cnn")).toEqual([]);
    const one = (name: string, file: string, problem: RegExp) => {
      expect(problems(name), name).toEqual([
        {
          file: path.join(dirs[name] ?? TINY_LLAMA, file),
          problem: expect.stringMatching(problem),
          fix: expect.any(String),
        },
      ]);
    };
    one("badJson", "config.json", /^not valid JSON: .*line 1 column 2/);
    one(
      "unknownType",
      "config.json",
      /transformers \S+ cannot read it \(model_type 'llama-from-the-future'\)/,
    );
    one(
      "needsEntry",
      "config.json",
      /model_type 'qwen2' is not in the architecture registry \(.*llama.*\) and the generic decoder path cannot take it: layers share KV caches/,
    );
    expect(problems("needsEntry")[0]).toMatchObject({
      fix: expect.stringContaining(
        "add an Architecture('qwen2', ...) entry to ARCHITECTURES in stages/pte_stages/modeling/architectures.py",
      ),
    });
    one("truncated", "model.safetensors", /^the weights do not load: SafetensorError: /);
    one(
      "dropped",
      "model.safetensors",
      /^missing keys against LlamaConfig: model\.layers\.\d+\.mlp\.down_proj\.weight$/,
    );
    one("shrunk", "model.safetensors", /^mismatched keys against LlamaConfig: /);
    one("badTokenizer", "tokenizer.json", /^the tokenizer does not load: /);
    expect(problems("long-prompt")).toEqual([
      {
        file: TINY_LLAMA,
        problem: expect.stringMatching(/tokens; with max_new_tokens=8 it exceeds max_seq_len=128$/),
        fix: expect.stringContaining("max_seq_len"),
      },
    ]);
  });

  it("run: a folder whose weights miss a tensor is exit 2 naming the file, and no stage starts", async () => {
    const out = path.join(await tempDir(), "out");
    const res = await cli("run", "--matrix", await matrixFor(dirs.dropped as string), "--out", out);
    expect(res.exitCode, res.all).toBe(2);
    expect(res.stderr).toContain(
      `model "tiny-llama": ${path.join(dirs.dropped as string, "model.safetensors")}: missing keys against LlamaConfig: `,
    );
    expect(res.all).not.toMatch(/reference|export/i);
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it("validate: an unknown model_type is exit 2 naming it; --files-only does not load", async () => {
    const matrix = await matrixFor(dirs.unknownType as string);
    const res = await cli("validate", "--matrix", matrix);
    expect(res.exitCode, res.all).toBe(2);
    expect(res.stderr).toContain("model_type 'llama-from-the-future'");
    expect(res.stderr).toContain(path.join(dirs.unknownType as string, "config.json"));
    const files = await cli("validate", "--matrix", matrix, "--files-only");
    expect(files.exitCode, files.all).toBe(0);
    expect(files.stdout).toContain("Model folders: files present (not loaded: --files-only)");
  }, 120_000);
});
