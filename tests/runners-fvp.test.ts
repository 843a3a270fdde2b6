/**
 * runners/corstone-fvp/provision.sh in dry-run: the FVP archive is a stand-in with the real one's
 * layout (the installer script at its top; the real download needs Arm's EULA and a network), and
 * the plan is checked against what ExecuTorch 1.4.1's backends/arm/scripts do.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { realPython, tempDir } from "./helpers/env.ts";
import { fakeRunnerTarball, plannedFile, provision } from "./helpers/runners.ts";

const VENV = path.dirname(path.dirname(realPython));
const LABELS = "self-hosted,linux,X64,corstone-fvp";

/** An archive laid out as Arm's FVP download: FVP_Corstone_SSE-<n>.sh at the top. */
async function fvpArchive(dir: string, corstone: "300" | "320"): Promise<string> {
  const src = path.join(dir, `fvp-${corstone}`);
  await mkdir(src, { recursive: true });
  const installer = path.join(src, `FVP_Corstone_SSE-${corstone}.sh`);
  await writeFile(installer, "#!/bin/sh\necho 'Arm FVP installer stand-in'\n");
  await chmod(installer, 0o755);
  const archive = path.join(dir, `FVP_Corstone_SSE-${corstone}_11.27_Linux64.tgz`);
  await execa("tar", ["-czf", archive, "-C", src, "."]);
  return archive;
}

async function dryRun(device: string, extra: string[], env: Record<string, string> = {}) {
  const dir = await tempDir("pte-farm-fvp-");
  const corstone = device.includes("320") ? "320" : "300";
  return provision(
    "corstone-fvp",
    [
      ["--device", device, "--repo", "octo-org/edge-farm", "--labels", LABELS, "--dry-run"],
      ["--python-venv", VENV, "--runner-tarball", await fakeRunnerTarball(dir)],
      ["--fvp-archive", await fvpArchive(dir, corstone)],
      extra,
    ].flat(),
    { PTE_FARM_GITHUB_TOKEN: "ghp_FVPTESTONLY0123456789abcdefghijklm", ...env },
  );
}

describe("runners/corstone-fvp/provision.sh --dry-run", () => {
  it("stops before any action without the EULA accepted, saying where the EULA is and how to accept it", async () => {
    const res = await dryRun("corstone-300-u55", []);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      "licensed under Arm's End User License Agreement, which is inside the archive",
    );
    expect(res.stderr).toContain("./FVP_Corstone_SSE-300.sh (it shows the EULA before installing)");
    expect(res.stderr).toContain("https://developer.arm.com/downloads/-/arm-ecosystem-fvps");
    expect(res.stderr).toContain(
      "rerun with --accept-eula or with ARM_FVP_INSTALL_I_AGREE_TO_THE_CONTAINED_EULA=True",
    );
    expect(res.stdout).not.toContain("would run");
    expect(res.stdout).not.toContain("would write");
  });

  it("takes the EULA acceptance from the variable ExecuTorch's setup.sh reads", async () => {
    const res = await dryRun("corstone-300-u55", [], {
      ARM_FVP_INSTALL_I_AGREE_TO_THE_CONTAINED_EULA: "True",
    });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain("ok: accepted with ARM_FVP_INSTALL_I_AGREE_TO_THE_CONTAINED_EULA=True");
  });

  it("plans the FVP install into /opt/pte-farm/fvp/corstone-300 with the archive's own installer", async () => {
    const res = await dryRun("corstone-300-u55", ["--accept-eula"]);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toMatch(
      /would run: tar -xzf \S+FVP_Corstone_SSE-300_11\.27_Linux64\.tgz -C \/opt\/pte-farm\/fvp\/\.staging-300\n/,
    );
    expect(res.stdout).toContain(
      "would run: /opt/pte-farm/fvp/.staging-300/FVP_Corstone_SSE-300.sh --i-agree-to-the-contained-eula --force --destination /opt/pte-farm/fvp/corstone-300 --quiet --no-interactive",
    );
    const env = plannedFile(res.stdout, "/opt/pte-farm/runners/corstone-300-u55/.env");
    const modelDir = `/opt/pte-farm/fvp/corstone-300/models/${process.arch === "arm64" ? "Linux64_armv8l_GCC-9.3" : "Linux64_GCC-9.3"}`;
    expect(env).toContain(`PTE_FARM_FVP_CORSTONE_300=${modelDir}/FVP_Corstone_SSE-300_Ethos-U55\n`);
    expect(env).toMatch(new RegExp(`^PATH=${modelDir}:`, "m"));
  });

  it("plans the distribution's arm-none-eabi toolchain with newlib, or extracts an Arm GNU Toolchain archive", async () => {
    const distro = await dryRun("corstone-300-u55", ["--accept-eula"]);
    expect(distro.stdout).toContain(
      "== system packages: gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib",
    );
    const dir = await tempDir("pte-farm-gcc-");
    const top = "arm-gnu-toolchain-15.2.rel1-x86_64-arm-none-eabi";
    await mkdir(path.join(dir, top, "bin"), { recursive: true });
    await writeFile(path.join(dir, top, "bin", "arm-none-eabi-gcc"), "#!/bin/sh\n");
    const archive = path.join(dir, `${top}.tar.xz`);
    await execa("tar", ["-cJf", archive, "-C", dir, top]);
    const res = await dryRun("corstone-300-u55", ["--accept-eula", "--arm-toolchain-archive", archive]);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain(`would run: tar -xf ${archive} -C /opt/pte-farm/arm-gnu-toolchain`);
    expect(res.stdout).not.toContain("gcc-arm-none-eabi libnewlib");
    expect(res.stdout).toContain(`env PATH=${VENV}/bin:/opt/pte-farm/arm-gnu-toolchain/${top}/bin:`);
  });

  it.each([
    ["corstone-300-u55", "ethos-u55-128", "cortex-m55", "Ethos_U55_High_End_Embedded", "Shared_Sram"],
    ["corstone-320-u85", "ethos-u85-256", "cortex-m85", "Ethos_U85_SYS_DRAM_Mid", "Dedicated_Sram_384KB"],
  ])(
    "plans the semihosting executor runner for %s as build_executor_runner.sh would (%s, %s)",
    async (device, npu, cpu, config, memory) => {
      const res = await dryRun(device, ["--accept-eula"]);
      expect(res.exitCode).toBe(0);
      const et = "/opt/pte-farm/src/executorch-1.4.1";
      const configure = res.stdout.split("\n").find((l) => l.includes(" cmake -S "));
      expect(configure?.split(" ")).toEqual(
        expect.arrayContaining([
          `${et}/examples/arm/executor_runner/standalone`,
          `-B`,
          `/opt/pte-farm/executor-runner/${npu}`,
          `-DEXECUTORCH_ROOT=${et}`,
          `-DCMAKE_TOOLCHAIN_FILE=${et}/examples/arm/ethos-u-setup/arm-none-eabi-gcc.cmake`,
          `-DETHOSU_TARGET_NPU_CONFIG=${npu}`,
          `-DTARGET_CPU=${cpu}`,
          `-DSYSTEM_CONFIG=${config}`,
          `-DMEMORY_MODE=${memory}`,
          "-DSEMIHOSTING=ON",
          // BundleIO: the runner checks the bundled reference outputs and prints Test_result.
          "-DET_BUNDLE_IO=ON",
          // One output quantum of the shipped CNNs (0.039) must not fail Test_result.
          "-DET_ATOL=0.05",
          "-DET_RTOL=0.01",
          `-DPYTHON_EXECUTABLE=${VENV}/bin/python`,
        ]),
      );
      expect(res.stdout).toMatch(
        new RegExp(
          `cmake --build /opt/pte-farm/executor-runner/${npu} --parallel --target arm_executor_runner\\n`,
        ),
      );
      const env = plannedFile(res.stdout, `/opt/pte-farm/runners/${device}/.env`);
      expect(env).toContain(
        `PTE_FARM_ARM_EXECUTOR_RUNNER_${npu.toUpperCase().replaceAll("-", "_")}=/opt/pte-farm/executor-runner/${npu}/examples/arm/executor_runner/arm_executor_runner\n`,
      );
      // What the fvp execute driver reads (actions/src/drivers/fvp/driver.ts).
      expect(env).toContain(
        `PTE_FARM_FVP_RUNNER=/opt/pte-farm/executor-runner/${npu}/examples/arm/executor_runner/arm_executor_runner\n`,
      );
      expect(env).toMatch(/^PTE_FARM_RUNNER_EXECUTORCH=1\.4\.1$/m);
    },
  );

  it("refuses the archive of the other Corstone before any action", async () => {
    const dir = await tempDir("pte-farm-fvp-");
    const res = await provision(
      "corstone-fvp",
      [
        ["--device", "corstone-320-u85", "--no-runner", "--dry-run", "--accept-eula", "--python-venv", VENV],
        ["--fvp-archive", await fvpArchive(dir, "300")],
      ].flat(),
    );
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(
      /has no FVP_Corstone_SSE-320\.sh: it is not the Corstone-320 FVP that corstone-320-u85 needs/,
    );
    expect(res.stdout).not.toContain("would run");
  });

  it("takes the BundleIO tolerance as a number and refuses anything else before any action", async () => {
    const dir = await tempDir("pte-farm-fvp-");
    const args = (atol: string) =>
      [
        ["--device", "corstone-300-u55", "--no-runner", "--dry-run", "--accept-eula", "--python-venv", VENV],
        ["--fvp-archive", "FVP", "--bundle-atol", atol],
      ].flat();
    const archive = await fvpArchive(dir, "300");
    const good = await provision(
      "corstone-fvp",
      args("0.2").map((a) => (a === "FVP" ? archive : a)),
    );
    expect(good.exitCode, good.stderr).toBe(0);
    expect(good.stdout).toContain("-DET_ATOL=0.2 ");
    const bad = await provision(
      "corstone-fvp",
      args("1e-2;x").map((a) => (a === "FVP" ? archive : a)),
    );
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--bundle-atol 1e-2;x: expected a number such as 0.05");
    expect(bad.stdout).not.toContain("would run");
  });

  it("refuses the FVP devices' GitHub-hosted labels from matrix/farm.yml unless given self-hosted ones", async () => {
    const dir = await tempDir("pte-farm-fvp-");
    const res = await provision(
      "corstone-fvp",
      [
        ["--device", "corstone-300-u55", "--repo", "o/r", "--dry-run", "--accept-eula"],
        ["--fvp-archive", await fvpArchive(dir, "300")],
      ].flat(),
    );
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("corstone-300-u55 runs on [ubuntu-24.04]");
  });

  it("with --no-runner installs the FVP toolchain only and prints the environment jobs need", async () => {
    const dir = await tempDir("pte-farm-fvp-");
    const res = await provision(
      "corstone-fvp",
      [
        ["--device", "corstone-300-u55", "--no-runner", "--dry-run", "--accept-eula", "--python-venv", VENV],
        ["--fvp-archive", await fvpArchive(dir, "300")],
      ].flat(),
    );
    expect(res.exitCode).toBe(0);
    expect(res.stdout).not.toContain("GitHub runner");
    expect(res.stdout).toMatch(
      /for jobs on this machine \(--no-runner.*\n(.*\n)* {2}PTE_FARM_FVP_CORSTONE_300=/,
    );
  });

  it("refuses an ExecuTorch checkout of another version than the toolchain pins", async () => {
    const src = await tempDir("pte-farm-et-");
    await writeFile(path.join(src, "version.txt"), "1.3.0\n");
    const res = await dryRun("corstone-300-u55", ["--accept-eula", "--executorch-src", src]);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(`--executorch-src ${src} is version 1.3.0, and the toolchain pins 1.4.1`);
  });
});
