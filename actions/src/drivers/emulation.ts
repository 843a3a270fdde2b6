/**
 * Emulated devices: a device with `emulation: { qemu_cpu }` runs the execute stage on the real
 * aarch64 ExecuTorch runtime under QEMU user mode, in the arm64 environment that
 * runners/pi5-emu/build_env.py builds (`make arm64-env`). Everything else about the cell — the
 * `.pte` from the x86_64 build, the gate, the record — is as on any device; only the interpreter
 * differs. Its timings are QEMU's, never a board's: records say `emulated` and no speed verdict
 * is drawn from them.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Cell } from "../../../matrix/cells.ts";
import { ConfigurationError, InfrastructureError } from "../core/errors.ts";
import { REPO_ROOT } from "../core/paths.ts";
import type { StageCommand } from "../pipeline/stage-process.ts";

export const ARM64_ENV_VAR = "PTE_FARM_ARM64_ENV";
const BUILDER = path.join(REPO_ROOT, "runners", "pi5-emu", "build_env.py");
export const QEMU = "qemu-aarch64-static";
const INSTALL =
  "make arm64-env (Debian packages qemu-user-static, debootstrap and binutils-aarch64-linux-gnu)";

/** `env.json`, which runners/pi5-emu/build_env.py writes last: a folder without it is unbuilt. */
export interface Arm64EnvMeta {
  id: string;
  pins: Record<string, string>;
  qemu: string;
  cpu_models: string[];
  bytes: number;
}

export interface Arm64Env {
  dir: string;
  python: string;
  qemu: string;
}

let resolved: Arm64Env | null = null;

function onPath(cmd: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? "").split(path.delimiter).some((d) => d !== "" && existsSync(path.join(d, cmd)));
}

let builderId: string | null = null;

/** The environment's folder: $PTE_FARM_ARM64_ENV, else the one the builder names for today's pins. */
export function arm64EnvDir(env: NodeJS.ProcessEnv = process.env): string {
  const given = env[ARM64_ENV_VAR];
  if (given !== undefined && given !== "") return path.resolve(given);
  // The pins do not change under a running process: ask the builder once.
  builderId ??= execFileSync("python3", [BUILDER, "--print-id"], { encoding: "utf8" }).trim();
  return path.join(REPO_ROOT, ".cache", "emu", builderId);
}

/** The interpreter the stages run with on an emulated device (QEMU and the arm64 CPython). */
export function launcherIn(dir: string): string {
  return path.join(dir, "bin", "python");
}

/** The environment's record, or null when it is not built. */
export function readArm64Env(dir: string): Arm64EnvMeta | null {
  const file = path.join(dir, "env.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Arm64EnvMeta) : null;
}

/**
 * The arm64 environment, checked: QEMU installed, the environment built, and every emulated
 * device's CPU model one this QEMU has. A missing part is infrastructure (what to install); a CPU
 * model QEMU lacks is the matrix's mistake (exit 2, naming the models it has).
 */
export function checkEmulatedDevices(cells: Cell[], env: NodeJS.ProcessEnv = process.env): Arm64Env | null {
  const devices = [...new Set(cells.map((c) => c.device))].filter((d) => d.emulation !== null);
  if (devices.length === 0) return null;
  if (!onPath(QEMU, env)) {
    throw new InfrastructureError(
      `device ${devices[0]?.name} is emulated, but ${QEMU} is not installed: run ${INSTALL}`,
    );
  }
  const dir = arm64EnvDir(env);
  const meta = readArm64Env(dir);
  if (meta === null) {
    throw new InfrastructureError(
      `device ${devices[0]?.name} is emulated, but the arm64 environment ${dir} is not built: run ${INSTALL}`,
    );
  }
  for (const d of devices) {
    const cpu = d.emulation?.qemuCpu ?? "";
    if (!meta.cpu_models.includes(cpu)) {
      throw new ConfigurationError(
        `device ${d.name}: emulation.qemu_cpu ${cpu} is not a CPU model of the installed QEMU (${meta.qemu}); ` +
          `it has: ${meta.cpu_models.join(", ")}`,
      );
    }
  }
  resolved = { dir, python: launcherIn(dir), qemu: meta.qemu };
  return resolved;
}

/** The QEMU that ran (from the environment's record), or what is on PATH when none was resolved. */
export function emulatorVersion(): string {
  if (resolved !== null) return resolved.qemu;
  try {
    return execFileSync(QEMU, ["--version"], { encoding: "utf8" }).split("\n")[0]?.trim() ?? QEMU;
  } catch {
    return `${QEMU} (not installed)`;
  }
}

/** How the execute stage starts for this cell: on an emulated device, the arm64 CPython under QEMU. */
export function executeCommand(command: StageCommand, cell: Cell): StageCommand {
  const emulation = cell.device.emulation;
  if (emulation === null) return command;
  const envDir = resolved ?? checkEmulatedDevices([cell]);
  if (envDir === null) return command;
  return { ...command, python: envDir.python, env: { ...command.env, PTE_FARM_QEMU_CPU: emulation.qemuCpu } };
}
