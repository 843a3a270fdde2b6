/**
 * What the run record says about the machine: device info, readable telemetry, the git sha.
 * Host-only for now; the Pi 5 / M1 runners will read the same fields their own way.
 */

import { readdir, readFile } from "node:fs/promises";
import os from "node:os";
import { execa } from "execa";
import { emulatorVersion } from "../drivers/emulation.ts";
import type { RunRecord } from "../schemas/run-record.ts";

export type DeviceInfo = RunRecord["device"];
export type TelemetrySample = RunRecord["telemetry"]["samples"][number];

async function osName(): Promise<string> {
  const text = await readFile("/etc/os-release", "utf8").catch(() => "");
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1];
  return pretty ?? `${os.type()} ${os.release()}`;
}

/** `<os>-<arch>` as the known-issue catalogue spells platforms (`linux-x64`, `linux-arm64`, `darwin-arm64`). */
export function platformId(): string {
  return `${process.platform}-${process.arch}`;
}

export async function hostDeviceInfo(device: {
  runner: string;
  board: string;
  arch?: string;
  emulation?: { qemuCpu: string } | null;
}): Promise<DeviceInfo> {
  const cpus = os.cpus();
  const hostCpu = cpus[0]?.model.trim() ?? "unknown";
  const info: DeviceInfo = {
    runner: device.runner,
    board: device.board,
    hostname: os.hostname(),
    os: await osName(),
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    cpu: hostCpu,
    cpus: cpus.length,
    memory_mb: Math.round(os.totalmem() / 2 ** 20),
  };
  const emu = device.emulation ?? null;
  if (emu === null) return info;
  // The guest's instruction set, on this host: which QEMU, which CPU model, on what.
  const qemu = emulatorVersion();
  return {
    ...info,
    arch: device.arch ?? info.arch,
    cpu: `${emu.qemuCpu} under ${qemu} on ${hostCpu}`,
    emulation: { qemu, cpu_model: emu.qemuCpu, host_arch: os.arch() },
  };
}

async function readNumber(file: string): Promise<number | null> {
  const text = await readFile(file, "utf8").catch(() => null);
  const n = text === null ? Number.NaN : Number(text.trim());
  return Number.isFinite(n) ? n : null;
}

/**
 * Thermal zones (°C) and current CPU frequencies (MHz), whatever this machine exposes; empty
 * records on machines (and containers) that expose nothing. Never fails.
 */
export async function sampleTelemetry(label: string): Promise<TelemetrySample> {
  const thermal: Record<string, number> = {};
  const zones = await readdir("/sys/class/thermal").catch(() => [] as string[]);
  for (const zone of zones.filter((z) => z.startsWith("thermal_zone"))) {
    const milli = await readNumber(`/sys/class/thermal/${zone}/temp`);
    if (milli === null) continue;
    const type = (await readFile(`/sys/class/thermal/${zone}/type`, "utf8").catch(() => zone)).trim();
    thermal[`${zone}:${type}`] = milli / 1000;
  }
  const mhz: Record<string, number> = {};
  const cpus = await readdir("/sys/devices/system/cpu").catch(() => [] as string[]);
  for (const cpu of cpus.filter((c) => /^cpu\d+$/.test(c))) {
    const khz = await readNumber(`/sys/devices/system/cpu/${cpu}/cpufreq/scaling_cur_freq`);
    if (khz !== null) mhz[cpu] = khz / 1000;
  }
  return { label, at: new Date().toISOString(), thermal_c: thermal, cpu_mhz: mhz };
}

/** HEAD's sha, or null outside a git checkout or before the first commit. */
export async function gitSha(cwd: string): Promise<string | null> {
  const res = await execa("git", ["rev-parse", "HEAD"], { cwd, reject: false });
  return res.exitCode === 0 ? res.stdout.trim() : null;
}
