import { existsSync } from "node:fs";
import { chmod, cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { main } from "../actions/src/cli/main.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { selectCells } from "../matrix/cells.ts";
import { loadFarm, missingModelFiles } from "../matrix/load.ts";
import { tempDir } from "./helpers/env.ts";

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");

async function cli(...args: string[]) {
  return execa(process.execPath, [CLI, ...args], { reject: false, cwd: REPO_ROOT });
}

/** The shipped farm.yml with one edit, written to a temp file. */
async function farmWith(edit: (text: string) => string): Promise<string> {
  const text = edit(await readFile(DEFAULT_MATRIX, "utf8"));
  const file = path.join(await tempDir(), "farm.yml");
  await writeFile(file, text);
  return file;
}

describe("pte-farm run: bad input exits 2 with what to fix", () => {
  it("names an unknown recipe in a cell set, with file:line:col and the known recipes", async () => {
    const matrix = await farmWith((t) => t.replace("recipes: [fp32, 8da4w-g32]", "recipes: [fp32, int3]"));
    const res = await cli("run", "--matrix", matrix);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(
      /farm\.yml:\d+:\d+: unknown recipe "int3"; known recipes: fp32, 8da4w-g32, 8da4w-g128, int4-weight-only, ethos-u-int8$/m,
    );
  });

  it("names an unknown recipe in --cells", async () => {
    const res = await cli("run", "--cells", "tiny-llama/int3/*/host-x86_64@stable");
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      'unknown recipe "int3"; known recipes: fp32, 8da4w-g32, 8da4w-g128, int4-weight-only, ethos-u-int8',
    );
  });

  it("names a missing model folder and what to do about it", async () => {
    const matrix = await farmWith((t) =>
      t.replace("path: stages/models/tiny-llama", "path: /nonexistent/tiny-llama"),
    );
    const res = await cli("run", "--matrix", matrix);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(
      /model "tiny-llama": folder \/nonexistent\/tiny-llama does not exist\. Point models\.tiny-llama\.path at/,
    );
  });

  it("refuses a model folder without a tokenizer (exit 2, naming the file) before any stage starts", async () => {
    const dir = await tempDir("pte-farm-model-");
    const model = path.join(dir, "tiny-llama");
    await cp(path.join(REPO_ROOT, "stages", "models", "tiny-llama"), model, { recursive: true });
    await rm(path.join(model, "tokenizer.json"));
    const matrix = await farmWith((t) => t.replace("path: stages/models/tiny-llama", `path: ${model}`));
    const res = await cli("run", "--matrix", matrix, "--out", path.join(dir, "out"));
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `model "tiny-llama": folder ${model} has no tokenizer (tokenizer.json, tokenizer.model, or vocab.json with merges.txt)`,
    );
    expect(res.stderr).toMatch(/farm\.yml:\d+:\d+: model "tiny-llama": folder /);
    expect(existsSync(path.join(dir, "out"))).toBe(false);
    // A folder with every file passes the same check (the shipped model's).
    expect(
      missingModelFiles("decoder-lm", await readdir(path.join(REPO_ROOT, "stages", "models", "tiny-llama"))),
    ).toEqual([]);
    expect(missingModelFiles("cnn", ["config.json"])).toEqual([
      "weights (*.safetensors or pytorch_model.bin)",
    ]);
    expect(
      missingModelFiles("decoder-lm", ["config.json", "model.safetensors", "vocab.json", "merges.txt"]),
    ).toEqual([]);
  });

  it("reports an unreadable matrix file", async () => {
    const matrix = await farmWith((t) => t);
    await chmod(matrix, 0o000);
    const missing = await cli("run", "--matrix", "/nonexistent/farm.yml");
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("cannot read the matrix file /nonexistent/farm.yml (ENOENT)");
    if (process.getuid?.() !== 0) {
      // root reads any file regardless of its mode, so this half only runs as a normal user
      const unreadable = await cli("run", "--matrix", matrix);
      expect(unreadable.exitCode).toBe(2);
      expect(unreadable.stderr).toContain("(EACCES)");
    }
  });

  it("reports a matrix that is not valid YAML with its line and column", async () => {
    const matrix = await farmWith((t) => t.replace("max_new_tokens: 24", "max_new_tokens: [24"));
    const res = await cli("run", "--matrix", matrix);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/farm\.yml:\d+:\d+: the matrix file is not valid YAML/);
  });

  it("reports a field of the wrong type with its YAML location and path", async () => {
    const matrix = await farmWith((t) => t.replace("max_new_tokens: 24", "max_new_tokens: lots"));
    const res = await cli("run", "--matrix", matrix);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(
      /farm\.yml:\d+:\d+: models\.tiny-llama\.max_new_tokens: expected a positive integer, got "lots"/,
    );
  });

  it("rejects an unknown flag and a bad count", async () => {
    const flag = await cli("run", "--fast");
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--fast'");
    const reps = await cli("run", "--reps", "0");
    expect(reps.exitCode).toBe(2);
    expect(reps.stderr).toContain("--reps 0: expected an integer >= 1");
  });

  it("rejects an unknown command, listing the known ones", async () => {
    const res = await cli("deploy");
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      'unknown command "deploy"; known commands: run, plan, validate, compare, detect',
    );
  });
});

const COMMANDS = [
  "run",
  "plan",
  "validate",
  "compare",
  "detect",
  "history",
  "export",
  "report",
  "dashboard",
  "health",
  "watchdog",
  "canaries",
  "bisect",
  "toolchain",
  "fetch",
];

/** `main` in this process (no child per call): what it printed on stdout and stderr, and its exit code. */
async function inProcess(...args: string[]) {
  const logger = new RecordingLogger();
  const code = await main(args, logger);
  const at = (level: string) =>
    logger.lines
      .filter((l) => l.level === level)
      .map((l) => l.message)
      .join("\n");
  return { code, out: at("info"), err: at("error") };
}

describe("pte-farm help", () => {
  it.each(COMMANDS)("`help %s`, `--help` and `-h` print that command's usage and no other", async (name) => {
    const help = await inProcess("help", name);
    expect(help.code).toBe(0);
    const synopses = help.out.split("\n").filter((l) => l.startsWith("pte-farm "));
    expect(synopses.length).toBeGreaterThan(0);
    for (const line of synopses) expect(line.startsWith(`pte-farm ${name} `), line).toBe(true);
    expect(help.out).not.toContain("usage: pte-farm <command>");
    for (const flag of ["--help", "-h"]) {
      const own = await inProcess(name, flag);
      expect(own.code, `${name} ${flag}`).toBe(0);
      expect(own.out, `${name} ${flag}`).toBe(help.out);
    }
  });

  it("prints an overview of one line per command, the environment and the exit codes", async () => {
    for (const args of [["help"], ["--help"], ["-h"]]) {
      const res = await inProcess(...args);
      expect(res.code).toBe(0);
      for (const name of COMMANDS) expect(res.out).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
      expect(res.out).toContain("environment: PTE_FARM_PYTHON");
      expect(res.out).toContain("exit codes: 0 all passed");
      expect(res.out).not.toMatch(/^\s+--/m);
    }
    const bare = await inProcess();
    expect(bare.code).toBe(2);
    expect(bare.out).toContain("usage: pte-farm <command> [options]");
  });

  it("refuses help on an unknown command with exit 2, listing the known ones", async () => {
    const res = await inProcess("help", "deploy");
    expect(res.code).toBe(2);
    expect(res.err).toContain(`unknown command "deploy"; known commands: ${COMMANDS.join(", ")}`);
  });
});

describe("cell selection", () => {
  it("runs the host set on the devices this machine serves (2 recipes × 2 backends, and the emulated Pi 5 on x86_64) when no glob is given, in YAML order", async () => {
    const farm = await loadFarm(DEFAULT_MATRIX);
    expect(selectCells(farm, undefined, { os: "linux", arch: "x86_64" }).cells.map((c) => c.id)).toEqual([
      "tiny-llama/fp32/xnnpack/host-x86_64@stable",
      "tiny-llama/fp32/xnnpack/pi5-emu@stable",
      "tiny-llama/fp32/portable/host-x86_64@stable",
      "tiny-llama/fp32/portable/pi5-emu@stable",
      "tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable",
      "tiny-llama/8da4w-g32/xnnpack/pi5-emu@stable",
      "tiny-llama/8da4w-g32/portable/host-x86_64@stable",
      "tiny-llama/8da4w-g32/portable/pi5-emu@stable",
    ]);
    // QEMU user mode runs on x86_64 hosts only: an arm64 machine serves host-arm64 alone.
    expect(
      selectCells(farm, undefined, { os: "linux", arch: "arm64" }).cells.every(
        (c) => c.device.name === "host-arm64",
      ),
    ).toBe(true);
  });

  it("selects by id glob over every cell the farm can form; * stays within one part", async () => {
    const farm = await loadFarm(DEFAULT_MATRIX);
    expect(
      selectCells(farm, "tiny-llama/8da4w-*/xnnpack*/host-x86_64@stable").cells.map((c) => c.id),
    ).toEqual([
      "tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable",
      "tiny-llama/8da4w-g32/xnnpack-per-op/host-x86_64@stable",
      "tiny-llama/8da4w-g128/xnnpack/host-x86_64@stable",
      "tiny-llama/8da4w-g128/xnnpack-per-op/host-x86_64@stable",
    ]);
    // ** spans parts: every decoder model (the hub models and their twins) × its three recipes.
    const lms = [...farm.models.values()].filter((m) => m.kind === "decoder-lm").map((m) => m.name);
    const portable = selectCells(farm, "**/portable/host-x86_64@stable").cells;
    expect(new Set(portable.map((c) => c.model.name))).toEqual(new Set(lms));
    expect(portable.length).toBe(lms.length * 3);
    expect(() => selectCells(farm, "tiny-llama/*")).toThrow(/selects no cell/);
  });
});
