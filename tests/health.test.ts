/**
 * The health check: LAVA's states from check results, the pins it compares, the temperature and
 * throttle verdicts on telemetry.py's real decoder output, the smoke `.pte` through the real
 * ExecuTorch runtime and the build cache, and `pte-farm health` end to end on this host. (The
 * action runs under @github/local-action in actions-local-action.test.ts.)
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MATRIX, REPO_ROOT, STAGES_DIR } from "../actions/src/core/paths.ts";
import { parse } from "../actions/src/core/validate.ts";
import {
  type CheckResult,
  checkHealth,
  type HealthCheck,
  type HealthContext,
  parsePins,
  stateOf,
} from "../actions/src/health/checks.ts";
import { smokeCheck } from "../actions/src/health/smoke.ts";
import {
  type DeviceProbe,
  judgeTemperature,
  judgeThrottle,
  readDeviceProbe,
  thermalExpectations,
} from "../actions/src/health/thermal.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { healthReport } from "../actions/src/schemas/health-report.ts";
import { loadFarm } from "../matrix/load.ts";
import { hasRealPython, realPython, tempDir } from "./helpers/env.ts";

const check = (status: CheckResult["status"]): CheckResult => ({ name: status, status, detail: "" });
const PI = { thermalZones: true, throttleSource: "vcgencmd" } as const;
const HOST = { thermalZones: false, throttleSource: null } as const;
const MAC = { thermalZones: false, throttleSource: "pmset" } as const;

function context(over: Partial<HealthContext> = {}): HealthContext {
  return {
    python: realPython,
    pinsFile: path.join(STAGES_DIR, "requirements.txt"),
    diskPath: tmpdir(),
    minFreeDiskMb: 0,
    minFreeMemoryMb: 0,
    maintenanceFile: null,
    maxTempC: 80,
    expect: HOST,
    cacheDir: null,
    ...over,
  };
}

describe("runner health states", () => {
  // @fault health-before-job | one failed check among passing and unknown ones | the device is bad, not good or unknown
  it("is good only when every check passes; a failed check is bad even beside one that could not run", () => {
    expect(stateOf([check("pass"), check("pass")], null)).toBe("good");
    expect(stateOf([check("pass"), check("unknown")], null)).toBe("unknown");
    expect(stateOf([check("unknown"), check("fail")], null)).toBe("bad");
  });

  it("counts a check that does not apply to the device (skip) for nothing", () => {
    expect(stateOf([check("pass"), check("skip")], null)).toBe("good");
    expect(stateOf([check("skip"), check("unknown")], null)).toBe("unknown");
    expect(stateOf([check("skip"), check("fail")], null)).toBe("bad");
  });

  // @fault maintenance | an operator's maintenance note beside passing or failing checks | the state is maintenance either way
  it("is in maintenance whenever a person said so, whatever the checks found", () => {
    expect(stateOf([check("pass")], "reflashing")).toBe("maintenance");
    expect(stateOf([check("fail")], "reflashing")).toBe("maintenance");
  });

  it("counts a check that throws as unknown, with its error, instead of crashing the report", async () => {
    const broken: HealthCheck = {
      name: "thermal",
      run: async () => {
        throw new Error("no /sys/class/thermal");
      },
    };
    const fine: HealthCheck = { name: "disk", run: async () => ({ status: "pass", detail: "ok" }) };
    const report = await checkHealth(
      context({ python: "python3", pinsFile: "" }),
      { device: "pi5", toolchain: "stable" },
      [fine, broken],
    );
    expect(report.state).toBe("unknown");
    expect(report.checks[1]).toEqual({
      name: "thermal",
      status: "unknown",
      detail: "the check failed to run: Error: no /sys/class/thermal",
    });
    expect(() => parse(healthReport, report, "report")).not.toThrow();
  });

  it("reads exact pins from a requirements file, by normalised name, ignoring comments and ranges", () => {
    const pins = parsePins(
      "# the stable toolchain\nexecutorch==1.4.1\nTorch_AO == 0.18.0  # inline comment\nnumpy>=2\n\ntransformers==5.23.0 ; python_version>='3.11'\n",
    );
    expect(Object.fromEntries(pins)).toEqual({
      executorch: "1.4.1",
      "torch-ao": "0.18.0",
      transformers: "5.23.0",
    });
  });

  it("expects vcgencmd and thermal zones of the Pi, pmset of the Mac, and nothing of hosts and FVPs", async () => {
    const farm = await loadFarm(DEFAULT_MATRIX);
    const of = (name: string) => thermalExpectations(farm.devices.get(name) ?? ({} as never));
    expect(of("pi5")).toEqual(PI);
    expect(of("m1")).toEqual(MAC);
    expect(of("host-x86_64")).toEqual(HOST);
    expect(of("corstone-300-u55")).toEqual(HOST);
  });
});

/** A folder with a stand-in `vcgencmd` that prints what a real Pi prints for `get_throttled`. */
async function standInVcgencmd(output: string): Promise<Record<string, string>> {
  const dir = await tempDir();
  const file = path.join(dir, "vcgencmd");
  await writeFile(file, `#!/bin/sh\n[ "$1" = get_throttled ] && echo '${output}'\n`, { mode: 0o755 });
  return { PATH: `${dir}${path.delimiter}${process.env.PATH ?? ""}` };
}

/** A fake sysfs tree with thermal zones (millidegrees, as the kernel writes them). */
async function sysfs(zones: Record<string, number>): Promise<string> {
  const root = await tempDir();
  for (const [i, [type, milli]] of Object.entries(zones).entries()) {
    const zone = path.join(root, "sys/class/thermal", `thermal_zone${i}`);
    await mkdir(zone, { recursive: true });
    await writeFile(path.join(zone, "type"), `${type}\n`);
    await writeFile(path.join(zone, "temp"), `${milli}\n`);
  }
  return root;
}

const why = hasRealPython ? "" : " [SKIPPED here: needs the project venv (make setup)]";

describe.skipIf(!hasRealPython)("temperature and throttle, on telemetry.py's real decoder output", () => {
  it(`fails a Pi whose throttle history shows under-voltage and throttling since boot (a stand-in vcgencmd printing a real Pi's throttled=0x50000)${why}`, async () => {
    const probe = await readDeviceProbe(realPython, {
      root: await sysfs({}),
      env: await standInVcgencmd("throttled=0x50000"),
    });
    expect(judgeThrottle(probe, PI)).toMatchObject({
      status: "fail",
      detail:
        "vcgencmd get_throttled=0x50000: under_voltage_occurred, throttled_occurred; fix the power supply or cooling, then reboot to clear the history bits",
      data: { now: [], occurred: ["under_voltage_occurred", "throttled_occurred"] },
    });
  });

  it(`fails a Pi being throttled now, and passes one with a clean history (throttled=0x4, throttled=0x0)${why}`, async () => {
    const now = await readDeviceProbe(realPython, { env: await standInVcgencmd("throttled=0x4") });
    expect(judgeThrottle(now, PI)).toMatchObject({
      status: "fail",
      detail: "vcgencmd get_throttled=0x4: throttled",
    });
    const clean = await readDeviceProbe(realPython, { env: await standInVcgencmd("throttled=0x0") });
    expect(judgeThrottle(clean, PI)).toMatchObject({
      status: "pass",
      detail: "vcgencmd get_throttled=0x0: no throttling or under-voltage since boot",
    });
  });

  it(`fails at or above the temperature limit, by the hottest zone of a sysfs tree${why}`, async () => {
    const hot = await readDeviceProbe(realPython, {
      root: await sysfs({ "cpu-thermal": 47_200, rp1_adc: 80_000 }),
    });
    expect(judgeTemperature(hot, 80, PI)).toMatchObject({
      status: "fail",
      detail:
        "hottest zone thermal_zone1:rp1_adc at 80 °C, at or above the 80 °C limit: let it cool or fix its cooling",
    });
    const warm = await readDeviceProbe(realPython, { root: await sysfs({ "cpu-thermal": 79_950 }) });
    expect(judgeTemperature(warm, 80, PI)).toMatchObject({
      status: "pass",
      detail: "hottest zone thermal_zone0:cpu-thermal at 79.95 °C, below 80 °C",
    });
  });

  it(`is unknown on a Pi that cannot report its heat, and skipped on a host that need not${why}`, async () => {
    const nothing = await readDeviceProbe(realPython, {
      root: await sysfs({}),
      env: { PATH: "/usr/bin:/bin" },
    });
    expect(nothing.throttled).toBeNull();
    expect(judgeTemperature(nothing, 80, PI).status).toBe("unknown");
    expect(judgeThrottle(nothing, PI)).toEqual({
      status: "unknown",
      detail: "`vcgencmd get_throttled` is not available on this Pi; install it (runners/ provisioning does)",
    });
    expect(judgeTemperature(nothing, 80, HOST).status).toBe("skip");
    expect(judgeThrottle(nothing, HOST).status).toBe("skip");
  });

  it(`reads a Mac's pmset -g therm (a real MacBook's output) as a CPU speed limit that fails throttle${why}`, async () => {
    // The same text stages/tests/test_telemetry.py decodes; here through the Python decoder, as the probe would on a Mac.
    const text =
      "Note: No thermal warning level has been recorded\nNote: No performance warning level has been recorded\n" +
      "2020-11-24 13:10:40 +0100 CPU Power notify\n    CPU_Scheduler_Limit     = 100\n    CPU_Available_CPUs  = 8\n    CPU_Speed_Limit     = 35\n";
    const decoded = await execa(
      realPython,
      [
        "-c",
        "import json, sys; from pte_stages.probes.telemetry import parse_pmset_therm; print(json.dumps(parse_pmset_therm(sys.stdin.read())))",
      ],
      { input: text, env: { PYTHONPATH: STAGES_DIR } },
    );
    const probe: DeviceProbe = {
      schema: "pte-farm/device-probe@1",
      platform: "darwin",
      thermal_c: {},
      throttled: { source: "pmset", ...JSON.parse(decoded.stdout) },
    };
    expect(judgeThrottle(probe, MAC)).toMatchObject({
      status: "fail",
      detail: "pmset: CPU speed limited to 35%",
    });
    expect(judgeTemperature(probe, 80, MAC)).toMatchObject({
      status: "pass",
      detail: "pmset: no thermal warning level recorded",
    });
  });
});

describe.skipIf(!hasRealPython)("the smoke .pte, through the real ExecuTorch runtime", () => {
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = await mkdtemp(path.join(tmpdir(), "pte-farm-smoke-cache-"));
  });
  afterAll(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it(`builds it once per toolchain into the build cache and runs it every time${why}`, async () => {
    const first = await smokeCheck.run(context({ cacheDir }));
    expect(first).toMatchObject({
      status: "pass",
      data: { cache: "miss", ok: true, actual: [[0.75, -1, 10, 96]] },
    });
    expect(first.detail).toMatch(
      /^add\+mul \.pte matches eager PyTorch \(load [\d.]+ ms, execute [\d.]+ ms; build fresh\)$/,
    );
    const dir = String(first.data?.dir);
    expect(dir.startsWith(path.join(cacheDir, "entries", "smoke"))).toBe(true);
    const second = await smokeCheck.run(context({ cacheDir }));
    expect(second).toMatchObject({ status: "pass", data: { cache: "hit", dir } });
  });

  it(`evicts a cached smoke .pte whose bytes changed and builds it again, rather than failing forever${why}`, async () => {
    const first = await smokeCheck.run(context({ cacheDir }));
    const pte = path.join(String(first.data?.dir), "smoke.pte");
    const bytes = await readFile(pte);
    const last = bytes.length - 1;
    bytes.writeUInt8(bytes.readUInt8(last) ^ 0xff, last);
    await writeFile(pte, bytes);
    const again = await smokeCheck.run(context({ cacheDir }));
    expect(again).toMatchObject({ status: "pass", data: { cache: "miss", ok: true } });
  });

  it("could not run (unknown, not bad) when the interpreter does not exist: the toolchain check owns that failure", async () => {
    const report = await checkHealth(
      context({ python: "/nonexistent/bin/python3", cacheDir }),
      { device: "host-x86_64", toolchain: "stable" },
      [smokeCheck],
    );
    expect(report.state).toBe("unknown");
    expect(report.checks[0]?.detail).toMatch(/^the check failed to run: .*\/nonexistent\/bin\/python3/);
  });

  it("fails, with Python's error, on a machine whose interpreter has no torch (the system python3)", async () => {
    const res = await smokeCheck.run(context({ python: "/usr/bin/python3" }));
    expect(res.status).toBe("fail");
    expect(res.detail).toMatch(
      /^the smoke \.pte does not build: .*ModuleNotFoundError: No module named 'torch'/,
    );
  });
});

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");

describe.skipIf(!hasRealPython)("pte-farm health on this host", () => {
  let cache: string;
  beforeAll(async () => {
    cache = await mkdtemp(path.join(tmpdir(), "pte-farm-health-cli-"));
  });
  afterAll(async () => {
    await rm(cache, { recursive: true, force: true });
  });
  const cli = (...args: string[]) =>
    execa(process.execPath, [CLI, "health", ...args], {
      reject: false,
      cwd: REPO_ROOT,
      env: { PTE_FARM_PYTHON: realPython, PTE_FARM_CACHE: cache },
    });

  it(`finds host-x86_64 good (exit 0), prints the report as JSON, and stores it in --history${why}`, async () => {
    const out = await tempDir();
    const store = await tempDir();
    const res = await cli(
      "--device",
      "host-x86_64",
      "--out",
      out,
      "--min-free-disk-mb",
      "1",
      "--min-free-memory-mb",
      "1",
      "--history",
      `dir:${store}`,
      "--json",
    );
    expect(res.exitCode, res.stderr).toBe(0);
    const report = parse(healthReport, JSON.parse(res.stdout), "stdout");
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["disk", "pass"],
      ["memory", "pass"],
      ["temperature", "skip"],
      ["throttle", "skip"],
      ["toolchain", "pass"],
      ["stages-import", "pass"],
      ["smoke-pte", "pass"],
    ]);
    expect(JSON.parse(await readFile(path.join(out, "health.json"), "utf8"))).toEqual(report);
    const stored = await new LocalFolderStore(store).listHealth("host-x86_64");
    expect(stored.map((s) => s.report)).toEqual([report]);
  });

  // @fault health-before-job | `pte-farm health` on a Pi with no thermal zone and no vcgencmd | health unknown (exit 3) naming what is missing; the stored report quarantines the device
  it(`calls a Pi that cannot report its heat unknown (exit 3), naming what is missing, and lists it quarantined${why}`, async () => {
    const store = await tempDir();
    const res = await cli("--device", "pi5", "--out", await tempDir(), "--history", `dir:${store}`);
    expect(res.exitCode).toBe(3);
    expect(res.stdout).toContain("### pte-farm health: pi5 is unknown");
    expect(res.stderr).toMatch(
      /^error: pi5 is unknown: temperature: no readable thermal zone under \/sys\/class\/thermal, and this device has a thermal policy; throttle: `vcgencmd get_throttled` is not available on this Pi/m,
    );
    const states = await execa(
      process.execPath,
      [CLI, "health", "states", "--history", `dir:${store}`, "--json"],
      {
        reject: false,
      },
    );
    expect(states.exitCode).toBe(0);
    const pi5 = JSON.parse(states.stdout).devices.find((d: { device: string }) => d.device === "pi5");
    expect(pi5).toMatchObject({ quarantined: true, health: { state: "unknown" } });
    expect(pi5.reason).toMatch(/^health check unknown at .* \(temperature: no readable thermal zone/);
  });

  it("refuses an unknown device, listing the known ones, and a missing --device (exit 2)", async () => {
    const unknown = await cli("--device", "pi6");
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain(
      '--device: unknown device "pi6"; known devices: host-x86_64, host-arm64, pi5',
    );
    const missing = await cli("--json");
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("health needs --device NAME");
    const states = await cli("states");
    expect(states.exitCode).toBe(2);
    expect(states.stderr).toContain("health states needs --history dir:PATH | git:REPO[#branch]");
  });
});
