/**
 * The health of an emulated device (matrix `emulation`): the QEMU on this host and whether it has
 * the device's CPU model, the arm64 environment's launcher, and whether the environment was built
 * from the pins the toolchain has now. Its smoke `.pte` then runs through that launcher (smoke.ts),
 * so a good report means the aarch64 runtime ran here, today.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { execa } from "execa";
import { arm64EnvDir, launcherIn, QEMU, readArm64Env } from "../drivers/emulation.ts";
import { type HealthCheck, parsePins } from "./checks.ts";

export const emulationCheck: HealthCheck = {
  name: "emulation",
  async run(ctx) {
    const cpu = ctx.emulation?.qemuCpu;
    if (cpu === undefined) return { status: "pass", detail: "not an emulated device" };
    const version = await execa(QEMU, ["--version"], { reject: false });
    if (version.exitCode !== 0) {
      return {
        status: "fail",
        detail: `${QEMU} does not run (${version.shortMessage}): install Debian's qemu-user-static (make arm64-env)`,
      };
    }
    const qemu = String(version.stdout).split("\n")[0]?.trim() ?? QEMU;
    const dir = arm64EnvDir(ctx.env);
    const meta = readArm64Env(dir);
    if (meta === null) {
      return {
        status: "fail",
        detail: `the arm64 environment ${dir} is not built: run make arm64-env`,
        data: { qemu },
      };
    }
    const launcher = launcherIn(dir);
    const data = { qemu, cpu_model: cpu, launcher, env: meta.id, pins: meta.pins, bytes: meta.bytes };
    if (!meta.cpu_models.includes(cpu)) {
      return {
        status: "fail",
        detail: `${qemu} has no CPU model ${cpu}; it has: ${meta.cpu_models.join(", ")}`,
        data,
      };
    }
    const want = parsePins(await readFile(ctx.pinsFile, "utf8"));
    const stale = Object.entries(meta.pins).filter(
      ([p, v]) => want.get(p) !== undefined && want.get(p) !== v,
    );
    if (stale.length > 0) {
      const pairs = stale.map(([p, v]) => `${p} ${v} (environment) vs ${want.get(p)} (pins)`).join(", ");
      return {
        status: "fail",
        detail: `the arm64 environment was built from other pins: ${pairs}; run make arm64-env`,
        data,
      };
    }
    if (!existsSync(launcher))
      return { status: "fail", detail: `${launcher} is missing: rebuild the environment`, data };
    const pins = Object.entries(meta.pins)
      .map(([p, v]) => `${p} ${v}`)
      .join(", ");
    return { status: "pass", detail: `${qemu}, -cpu ${cpu}; arm64 environment ${meta.id} (${pins})`, data };
  },
};
