/**
 * Running runners/<kind>/provision.sh from tests: the scripts themselves (execa, no shell in
 * between), a stand-in actions/runner release archive (we cannot download the real one here), a
 * farm.yml with a self-hosted device of this machine's architecture, a Raspberry Pi 5's sysfs
 * laid out as the kernel lays it out, and a snapshot of a provisioned tree for idempotency checks.
 */
import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { arch } from "node:os";
import path from "node:path";
import { execa, type Result } from "execa";
import { REPO_ROOT } from "../../actions/src/core/paths.ts";

export const RUNNERS_DIR = path.join(REPO_ROOT, "runners");
export const SHELLCHECK = path.join(REPO_ROOT, ".venv", "bin", "shellcheck");

export type Kind = "host" | "pi5" | "m1" | "corstone-fvp";

export interface ScriptRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a provisioning script; never throws on a non-zero exit (tests assert on it). */
export async function provision(
  kind: Kind,
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<ScriptRun> {
  const result: Result = await execa(path.join(RUNNERS_DIR, kind, "provision.sh"), args, {
    reject: false,
    env: { PTE_FARM_GITHUB_TOKEN: "", ARM_FVP_INSTALL_I_AGREE_TO_THE_CONTAINED_EULA: "", ...env },
    ...(input === undefined ? {} : { input }),
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/**
 * A stand-in for an actions/runner release: `run.sh` and `bin/Runner.Listener` at the top, as in
 * the real archive. Its run.sh writes the arguments it was started with, one a line, to
 * `.fake-run-args` beside itself, so a test can see what the service handed the runner.
 */
export async function fakeRunnerTarball(dir: string): Promise<string> {
  const src = path.join(dir, "actions-runner");
  await mkdir(path.join(src, "bin"), { recursive: true });
  await writeFile(
    path.join(src, "run.sh"),
    '#!/bin/bash\nprintf \'%s\\n\' "$@" > "$(dirname "$0")/.fake-run-args"\n',
  );
  await writeFile(path.join(src, "bin", "Runner.Listener"), "#!/bin/bash\nexit 0\n");
  await chmod(path.join(src, "run.sh"), 0o755);
  await chmod(path.join(src, "bin", "Runner.Listener"), 0o755);
  const tarball = path.join(dir, "actions-runner-linux-fake.tar.gz");
  await execa("tar", ["-czf", tarball, "-C", src, "."]);
  return tarball;
}

/** This machine's architecture as farm.yml spells it. */
export const FARM_ARCH = arch() === "arm64" ? "arm64" : "x86_64";
export const GITHUB_ARCH = arch() === "arm64" ? "ARM64" : "X64";

/**
 * A farm.yml with one self-hosted host-cpu device of this machine's architecture (the real
 * matrix's host devices run on GitHub-hosted labels, which provisioning rightly refuses).
 */
export async function selfHostedHostMatrix(dir: string, device = "host-lab"): Promise<string> {
  const file = path.join(dir, "farm.yml");
  await writeFile(
    file,
    [
      "devices:",
      `  ${device}:`,
      `    runs_on: [self-hosted, linux, ${GITHUB_ARCH}, ${device}] # a lab machine`,
      "    os: linux",
      `    arch: ${FARM_ARCH}`,
      "    board: host-cpu",
      "    driver: python-runtime",
      "toolchains:",
      "  stable:",
      `    requirements: ${path.join(REPO_ROOT, "stages", "requirements.txt")}`,
      "",
    ].join("\n"),
  );
  return file;
}

export interface PiSysfs {
  model?: string;
  /** cooling_device types, in order (the Pi 5 has a pwm-fan when a fan is on its header). */
  coolingTypes?: string[];
  fanRpm?: number | null;
  tempMilliC?: number;
  governor?: string;
}

/** A Raspberry Pi 5's sysfs as provisioning reads it (the paths are the kernel's). */
export async function piSysfs(dir: string, opts: PiSysfs = {}): Promise<string> {
  const root = path.join(dir, "sys");
  const put = async (rel: string, text: string) => {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  };
  await put("firmware/devicetree/base/model", `${opts.model ?? "Raspberry Pi 5 Model B Rev 1.0"}\0`);
  const types = opts.coolingTypes ?? ["pwm-fan"];
  for (const [i, type] of types.entries()) await put(`class/thermal/cooling_device${i}/type`, `${type}\n`);
  await put("class/thermal/thermal_zone0/type", "cpu-thermal\n");
  await put("class/thermal/thermal_zone0/temp", `${opts.tempMilliC ?? 45600}\n`);
  if (opts.fanRpm !== null) {
    await put("class/hwmon/hwmon2/name", "pwmfan\n");
    await put("class/hwmon/hwmon2/fan1_input", `${opts.fanRpm ?? 2943}\n`);
  }
  await put("class/hwmon/hwmon0/name", "cpu_thermal\n");
  await put("class/hwmon/hwmon0/temp1_input", `${opts.tempMilliC ?? 45600}\n`);
  await put("devices/system/cpu/cpufreq/policy0/scaling_governor", `${opts.governor ?? "ondemand"}\n`);
  await put(
    "devices/system/cpu/cpufreq/policy0/scaling_available_governors",
    "conservative ondemand userspace powersave performance schedutil \n",
  );
  await put("devices/system/cpu/cpufreq/policy0/affected_cpus", "0 1 2 3\n");
  return root;
}

export interface Entry {
  kind: "file" | "dir" | "symlink";
  mode: number;
  mtimeMs: number;
  sha256?: string;
  target?: string;
}

/** Every path under `root` with its kind, mode, mtime and content digest. */
export async function snapshot(root: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const walk = async (dir: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      const st = await lstat(full);
      const base = { mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
      if (st.isSymbolicLink()) out.set(rel, { kind: "symlink", ...base, target: await readlink(full) });
      else if (st.isDirectory()) {
        out.set(rel, { kind: "dir", ...base });
        await walk(full);
      } else {
        const sha256 = createHash("sha256")
          .update(await readFile(full))
          .digest("hex");
        out.set(rel, { kind: "file", ...base, sha256 });
      }
    }
  };
  await walk(root);
  return out;
}

/** The body of a dry run's "would write PATH ...:" block, without its "    | " margin. */
export function plannedFile(stdout: string, target: string): string {
  const lines = stdout.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`[dry-run] would write ${target} `));
  if (start < 0) throw new Error(`the dry run plans no write of ${target}:\n${stdout}`);
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("    | ") && line !== "    |") break;
    body.push(line.slice(6));
  }
  return `${body.join("\n")}\n`;
}
