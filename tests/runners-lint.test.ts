/**
 * The provisioning scripts as code: shellcheck on every one of them, and the bash reader of
 * matrix/farm.yml (a bare board has no YAML library) held to the TypeScript loader's answers.
 */
import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { DEFAULT_MATRIX, REPO_ROOT } from "../actions/src/core/paths.ts";
import { loadFarm } from "../matrix/load.ts";
import { tempDir } from "./helpers/env.ts";
import { type Kind, provision, RUNNERS_DIR, SHELLCHECK } from "./helpers/runners.ts";

async function shellScripts(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(".sh")) out.push(path.join(entry.parentPath, entry.name));
  }
  return out.sort();
}

/** matrix_field from runners/lib/matrix.sh, as the scripts call it. */
async function matrixField(file: string, section: string, entry: string, field: string) {
  const res = await execa(
    "bash",
    [
      "-c",
      '. "$0"/lib/matrix.sh && matrix_field "$1" "$2" "$3" "$4"',
      RUNNERS_DIR,
      file,
      section,
      entry,
      field,
    ],
    { reject: false },
  );
  return res.exitCode === 0 ? res.stdout : null;
}

describe("runners/ shell scripts", () => {
  it("are shellcheck-clean, following what they source", async () => {
    const scripts = await shellScripts(RUNNERS_DIR);
    expect(scripts.map((s) => path.relative(REPO_ROOT, s))).toEqual(
      expect.arrayContaining([
        "runners/host/provision.sh",
        "runners/pi5/provision.sh",
        "runners/m1/provision.sh",
        "runners/corstone-fvp/provision.sh",
        "runners/lib/pte-farm-runner.sh",
      ]),
    );
    const res = await execa(SHELLCHECK, ["--external-sources", "--severity=info", ...scripts], {
      cwd: REPO_ROOT,
      reject: false,
    });
    expect(res.stdout).toBe("");
    expect(res.exitCode).toBe(0);
  });

  it.each<Kind>(["host", "pi5", "m1", "corstone-fvp"])(
    "%s: --help lists the shared options, and an unknown option exits 2 naming it",
    async (kind) => {
      const help = await provision(kind, ["--help"]);
      expect(help.exitCode).toBe(0);
      for (const option of [
        "--device",
        "--repo",
        "--dry-run",
        "--root",
        "--python-venv",
        "--runner-tarball",
      ]) {
        expect(help.stdout).toContain(option);
      }
      const bad = await provision(kind, ["--device", "x", "--frobnicate"]);
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toBe("error: unknown option '--frobnicate' (see --help)");
    },
  );

  it("read every device of matrix/farm.yml as the TypeScript loader does", async () => {
    const farm = await loadFarm(DEFAULT_MATRIX, { checkFiles: false });
    expect(farm.devices.size).toBeGreaterThan(0);
    for (const device of farm.devices.values()) {
      const field = (name: string) => matrixField(DEFAULT_MATRIX, "devices", device.name, name);
      expect({
        runs_on: await field("runs_on"),
        os: await field("os"),
        arch: await field("arch"),
        board: await field("board"),
        driver: await field("driver"),
      }).toEqual({
        runs_on: device.runsOn.join(","),
        os: device.os,
        arch: device.arch,
        board: device.board,
        driver: device.driver,
      });
    }
    const entries = await execa("bash", [
      "-c",
      '. "$0"/lib/matrix.sh && matrix_entries "$1" devices',
      RUNNERS_DIR,
      DEFAULT_MATRIX,
    ]);
    expect(entries.stdout.split("\n")).toEqual([...farm.devices.keys()]);
  });

  it("read block lists, quotes and comments, and report a missing field", async () => {
    const file = path.join(await tempDir(), "farm.yml");
    await writeFile(
      file,
      [
        "# a comment",
        "devices:",
        "  lab-pi: # the bench by the window",
        "    runs_on:",
        "      - self-hosted",
        '      - "linux" # quoted',
        "      - ARM64",
        "    os: 'linux'",
        "  other:",
        "    os: macos",
        "toolchains:",
        "  stable:",
        "    requirements: stages/requirements.txt",
        "",
      ].join("\n"),
    );
    expect(await matrixField(file, "devices", "lab-pi", "runs_on")).toBe("self-hosted,linux,ARM64");
    expect(await matrixField(file, "devices", "lab-pi", "os")).toBe("linux");
    expect(await matrixField(file, "devices", "other", "os")).toBe("macos");
    expect(await matrixField(file, "devices", "lab-pi", "arch")).toBeNull();
    expect(await matrixField(file, "devices", "stable", "requirements")).toBeNull();
    expect(await matrixField(file, "toolchains", "stable", "requirements")).toBe("stages/requirements.txt");
  });
});
