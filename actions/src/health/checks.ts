/**
 * The runner health check a device job runs before it executes anything, in LAVA's terms: a device
 * is good, unknown (health could not be established), bad (a check failed) or in maintenance (a
 * person took it out of service). A board that runs a benchmark while short of memory or on the
 * wrong torch produces numbers that look like a regression; this catches that first.
 *
 * Checks are a list of small named functions. This file holds the framework and the host checks
 * (disk, memory, toolchain pins, stage imports); thermal.ts the temperature and throttle
 * checks, smoke.ts the smoke `.pte`; run.ts puts them in order for a farm device.
 * How a state turns into a quarantine (and back) is quarantine.ts's.
 *
 * State mapping (LAVA's names, decided by {@link stateOf}): a maintenance file → maintenance; else
 * any failed check → bad; else any check that could not run → unknown; else good.
 */
import { existsSync } from "node:fs";
import { readFile, statfs } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { existingAncestor } from "../core/disk.ts";
import { STAGES_DIR } from "../core/paths.ts";
import { normalize } from "../core/requirements.ts";
import {
  type CheckResult,
  HEALTH_SCHEMA,
  type HealthReport,
  type HealthState,
} from "../schemas/health-report.ts";
import { STAGES } from "../schemas/stage.ts";

export {
  type CheckResult,
  type CheckStatus,
  HEALTH_STATES,
  type HealthReport,
  type HealthState,
} from "../schemas/health-report.ts";

/** What a device must be able to report about its heat: missing on a board that should → unknown. */
export interface ThermalExpectations {
  /** Linux thermal zones (a board with a thermal policy in the matrix). */
  thermalZones: boolean;
  /** The throttle tool the board has: a Pi's `vcgencmd`, a Mac's `pmset`; null: optional. */
  throttleSource: "vcgencmd" | "pmset" | null;
}

export interface HealthContext {
  python: string;
  /** The toolchain's pins file (matrix toolchains.<name>.requirements). */
  pinsFile: string;
  /** A folder on the file system stage outputs go to. */
  diskPath: string;
  minFreeDiskMb: number;
  minFreeMemoryMb: number;
  /** A file whose presence means maintenance; null: never. */
  maintenanceFile: string | null;
  /** The hottest thermal zone at or above this fails (matrix `health.max_temp_c`). */
  maxTempC: number;
  expect: ThermalExpectations;
  /** Build cache root for the smoke `.pte`; null: build it afresh in a temporary folder. */
  cacheDir: string | null;
  /** Sysfs root and extra environment for the thermal probe (tests: a fake tree, a stand-in vcgencmd). */
  probe?: {
    root?: string;
    env?: Record<string, string>;
  } /** The device's QEMU CPU model when it is emulated: the smoke `.pte` runs under QEMU then. */;
  emulation?: { qemuCpu: string } | null;
  /** The environment to resolve the arm64 environment from (default: the process's). */
  env?: NodeJS.ProcessEnv;
}

export interface HealthCheck {
  name: string;
  run(ctx: HealthContext): Promise<Omit<CheckResult, "name">>;
}

const mb = (bytes: number) => Math.floor(bytes / 2 ** 20);

/** The nearest existing folder at or above `p` (statfs needs one; out-dir may not exist yet). */
export const diskCheck: HealthCheck = {
  name: "disk",
  async run(ctx) {
    const at = existingAncestor(ctx.diskPath);
    const s = await statfs(at);
    const free = mb(s.bavail * s.bsize);
    const ok = free >= ctx.minFreeDiskMb;
    return {
      status: ok ? "pass" : "fail",
      detail: `${free} MiB free at ${at}${ok ? "" : `, below the ${ctx.minFreeDiskMb} MiB needed`}`,
      data: { path: at, free_mb: free, min_mb: ctx.minFreeDiskMb },
    };
  },
};

/** MemAvailable on Linux (what a new process can get without swapping), else the OS's free memory. */
async function availableMemory(): Promise<number> {
  const meminfo = await readFile("/proc/meminfo", "utf8").catch(() => "");
  const kib = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  return kib === undefined ? os.freemem() : Number(kib) * 1024;
}

export const memoryCheck: HealthCheck = {
  name: "memory",
  async run(ctx) {
    const free = mb(await availableMemory());
    const ok = free >= ctx.minFreeMemoryMb;
    return {
      status: ok ? "pass" : "fail",
      detail: `${free} MiB available${ok ? "" : `, below the ${ctx.minFreeMemoryMb} MiB needed`}`,
      data: { available_mb: free, min_mb: ctx.minFreeMemoryMb },
    };
  },
};

/** `name==version` lines of a pins file (comments, blanks and other specifiers ignored). */
export function parsePins(text: string): Map<string, string> {
  const pins = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)/.exec(raw.replace(/#.*/, ""));
    if (m?.[1] !== undefined && m[2] !== undefined) pins.set(normalize(m[1]), m[2]);
  }
  return pins;
}

const VERSIONS_PROBE = `
import importlib.metadata as m, json, sys
out = {}
for n in json.loads(sys.argv[1]):
    try:
        out[n] = m.version(n)
    except m.PackageNotFoundError:
        out[n] = None
print(json.dumps({"python": sys.version.split()[0], "packages": out}))
`;

/**
 * Whether an installed version satisfies `==want`: as in PEP 440, a pin without a local label
 * (`torch==2.13.0`) is satisfied by any local build of that release (`2.13.0+cpu`).
 */
export function pinHolds(want: string, installed: string | null): boolean {
  if (installed === null) return false;
  return installed === want || (!want.includes("+") && installed.split("+")[0] === want);
}

export const toolchainCheck: HealthCheck = {
  name: "toolchain",
  async run(ctx) {
    const pins = parsePins(await readFile(ctx.pinsFile, "utf8"));
    // torch and executorch are always reported (execute checks them against the manifest).
    const names = [...new Set([...pins.keys(), "torch", "executorch"])];
    const probe = await execa(ctx.python, ["-c", VERSIONS_PROBE, JSON.stringify(names)], { reject: false });
    if (probe.exitCode !== 0) {
      return {
        status: "fail",
        detail: `cannot run ${ctx.python} (${probe.shortMessage}); set the python input or PTE_FARM_PYTHON`,
      };
    }
    const found = JSON.parse(probe.stdout) as { python: string; packages: Record<string, string | null> };
    const wrong = [...pins].filter(([name, want]) => !pinHolds(want, found.packages[name] ?? null));
    const shown = wrong.map(
      ([name, want]) => `${name} ${found.packages[name] ?? "missing"} (pinned ${want})`,
    );
    return {
      status: wrong.length === 0 ? "pass" : "fail",
      detail:
        wrong.length === 0
          ? `${pins.size} pins of ${path.basename(ctx.pinsFile)} installed; torch ${found.packages.torch ?? "missing"}`
          : `differs from ${ctx.pinsFile}: ${shown.join(", ")}`,
      data: { python: found.python, packages: found.packages, pins: Object.fromEntries(pins) },
    };
  },
};

export const stagesImportCheck: HealthCheck = {
  name: "stages-import",
  async run(ctx) {
    const modules = STAGES.map((s) => `pte_stages.${s}`);
    const res = await execa(ctx.python, ["-c", `import ${modules.join(", ")}`], {
      reject: false,
      env: { PYTHONPATH: [STAGES_DIR, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) },
      timeout: 600_000,
    });
    if (res.exitCode === 0) return { status: "pass", detail: `${modules.length} stage modules import` };
    const tail = String(res.stderr).trim().split("\n").slice(-3).join(" | ");
    return { status: "fail", detail: `the stages do not import: ${tail || res.shortMessage}` };
  },
};

/**
 * Maintenance wins; then any failed check makes the runner bad; then any check that could not run,
 * unknown. A skipped check (not applicable to this device) counts for nothing.
 */
export function stateOf(checks: readonly CheckResult[], maintenance: string | null): HealthState {
  if (maintenance !== null) return "maintenance";
  if (checks.some((c) => c.status === "fail")) return "bad";
  if (checks.some((c) => c.status === "unknown")) return "unknown";
  return "good";
}

/** Runs every check (a throwing check is `unknown`, never a crash) and decides the state. */
export async function checkHealth(
  ctx: HealthContext,
  meta: { device: string; toolchain: string },
  checks: readonly HealthCheck[],
): Promise<HealthReport> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    try {
      results.push({ name: check.name, ...(await check.run(ctx)) });
    } catch (err) {
      results.push({
        name: check.name,
        status: "unknown",
        detail: `the check failed to run: ${String(err)}`,
      });
    }
  }
  let maintenance: string | null = null;
  if (ctx.maintenanceFile !== null && existsSync(ctx.maintenanceFile)) {
    const text = await readFile(ctx.maintenanceFile, "utf8").catch(() => "");
    maintenance = text.split("\n")[0]?.trim() || `${ctx.maintenanceFile} exists`;
  }
  return {
    schema: HEALTH_SCHEMA,
    device: meta.device,
    toolchain: meta.toolchain,
    state: stateOf(results, maintenance),
    checked_at: new Date().toISOString(),
    maintenance,
    checks: results,
  };
}
