/**
 * runners/pi5/provision.sh in dry-run (there is no Pi 5 here): the plan it prints, on a sysfs laid
 * out as a Pi 5's kernel lays it out (helpers/runners.ts), with the real matrix/farm.yml.
 */
import { describe, expect, it } from "vitest";
import { pinnedVersion, tempDir } from "./helpers/env.ts";
import { fakeRunnerTarball, type PiSysfs, piSysfs, plannedFile, provision } from "./helpers/runners.ts";

const TOKEN = "ghp_PI5TESTONLY0123456789abcdefghijklmn";

async function dryRun(sysfs: PiSysfs = {}, extra: string[] = []) {
  const dir = await tempDir("pte-farm-pi5-");
  const args = [
    ["--device", "pi5", "--repo", "octo-org/edge-farm", "--dry-run"],
    ["--sysfs", await piSysfs(dir, sysfs), "--runner-tarball", await fakeRunnerTarball(dir)],
    extra,
  ].flat();
  return provision("pi5", args, { PTE_FARM_GITHUB_TOKEN: TOKEN });
}

describe("runners/pi5/provision.sh --dry-run, on a Pi 5 sysfs fixture", () => {
  it("plans the performance governor now and at every boot", async () => {
    const res = await dryRun({ governor: "ondemand" });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toMatch(
      /\[dry-run\] would write performance to \S+\/devices\/system\/cpu\/cpufreq\/policy0\/scaling_governor \(now ondemand\)/,
    );
    const unit = plannedFile(res.stdout, "/etc/systemd/system/pte-farm-cpufreq-performance.service");
    expect(unit).toContain("Type=oneshot\n");
    // $$ is systemd's escape for a literal $: the shell sees "$g".
    expect(unit).toContain(
      "ExecStart=/bin/sh -c 'for g in /sys/devices/system/cpu/cpufreq/policy*/scaling_governor; do echo performance > \"$$g\"; done'",
    );
    expect(res.stdout).toContain(
      "[dry-run] would run: systemctl --quiet enable pte-farm-cpufreq-performance.service",
    );
  });

  it("says the governor is already set when it is", async () => {
    const res = await dryRun({ governor: "performance" });
    expect(res.stdout).toMatch(/ok: \S+policy0\/scaling_governor is performance/);
    expect(res.stdout).not.toContain("would write performance");
  });

  it("accepts a spinning active cooler and reports its speed", async () => {
    const res = await dryRun({ coolingTypes: ["pwm-fan"], fanRpm: 2943, tempMilliC: 45600 });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain("ok: active cooler cooling_device0 (pwm-fan) at 2943 rpm; SoC at 45 °C");
  });

  it("accepts an idle fan on a board below the fan's 50 °C start", async () => {
    const res = await dryRun({ fanRpm: 0, tempMilliC: 41200 });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain("(off while the SoC is at 41 °C, below its 50 °C start)");
  });

  it("refuses a board without an active cooler, saying why and how to go on", async () => {
    const res = await dryRun({ coolingTypes: ["cpufreq-cpu0"], fanRpm: null, tempMilliC: 58000 });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("no active cooler: no fan among the cooling devices (cpufreq-cpu0)");
    expect(res.stderr).toContain("throttles under sustained load");
    expect(res.stderr).toContain("--allow-passive-cooling");
    expect(res.stdout).not.toContain("would run");
  });

  it("refuses a fan that does not spin on a hot board", async () => {
    const res = await dryRun({ fanRpm: 0, tempMilliC: 57000 });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      "reads 0 rpm at 57 °C, where it should spin: is it plugged into the fan header?",
    );
  });

  it("refuses a board that idles hot even with its fan running", async () => {
    const res = await dryRun({ fanRpm: 4100, tempMilliC: 67000 });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("the board idles at 67 °C");
  });

  it("registers a passively cooled board with --allow-passive-cooling, warning that it may throttle", async () => {
    const res = await dryRun({ coolingTypes: ["cpufreq-cpu0"], fanRpm: null }, ["--allow-passive-cooling"]);
    expect(res.exitCode).toBe(0);
    expect(res.stderr).toContain("warning: no active cooler");
    expect(res.stderr).toContain("the health check will watch for throttling");
  });

  it("plans the runner with the pi5 labels from matrix/farm.yml, under systemd, and the video group for vcgencmd", async () => {
    const res = await dryRun();
    const conf = plannedFile(res.stdout, "/etc/pte-farm/pi5.conf");
    expect(conf).toContain("LABELS=self-hosted,linux,ARM64,pi5\n");
    expect(conf).toContain("SCOPE=repos/octo-org/edge-farm\n");
    const unit = plannedFile(res.stdout, "/etc/systemd/system/pte-farm-runner-pi5.service");
    expect(unit).toContain(
      "ExecStartPre=+/opt/pte-farm/bin/pte-farm-runner jitconfig /etc/pte-farm/pi5.conf %t/pte-farm-runner-pi5/jitconfig\n",
    );
    expect(res.stdout).toContain("[dry-run] would run: usermod -aG video pte-farm");
    expect(res.stdout).toContain(
      "[dry-run] would write /etc/pte-farm/pi5.token (mode 600, secret: content not shown)",
    );
    expect(`${res.stdout}${res.stderr}`).not.toContain(TOKEN);
  });

  it("plans the toolchain venv as the Makefile builds it: torch alone by exact version, then the pins", async () => {
    const res = await dryRun();
    const lines = res.stdout.split("\n").filter((l) => l.includes("/opt/pte-farm/toolchains/stable"));
    expect(lines.slice(0, 5)).toEqual([
      "[dry-run] would run: python3 -m venv /opt/pte-farm/toolchains/stable",
      "[dry-run] would run: /opt/pte-farm/toolchains/stable/bin/python -m pip install --quiet --upgrade pip",
      `[dry-run] would run: /opt/pte-farm/toolchains/stable/bin/python -m pip install --quiet torch==${pinnedVersion("torch")}`,
      expect.stringMatching(/-m pip install --quiet -r \S+\/stages\/requirements\.txt$/),
      expect.stringContaining(`assert torch.__version__.startswith("${pinnedVersion("torch")}")`),
    ]);
  });

  it("plans ExecuTorch's llama_main at the pinned version for the llama-main driver", async () => {
    const res = await dryRun();
    expect(res.stdout).toContain(
      "[dry-run] would run: git clone --quiet --depth 1 --branch v1.4.1 --recurse-submodules --shallow-submodules https://github.com/pytorch/executorch.git /opt/pte-farm/src/executorch-1.4.1",
    );
    expect(res.stdout).toMatch(
      /would run in \/opt\/pte-farm\/src\/executorch-1\.4\.1: env PATH=\S+ cmake --workflow --preset llm-release\n/,
    );
    expect(res.stdout).toMatch(
      /would run in \/opt\/pte-farm\/src\/executorch-1\.4\.1\/examples\/models\/llama: env PATH=\S+ cmake --workflow --preset llama-release\n/,
    );
    const env = plannedFile(res.stdout, "/opt/pte-farm/runners/pi5/.env");
    expect(env).toContain(
      "PTE_FARM_LLAMA_MAIN=/opt/pte-farm/src/executorch-1.4.1/cmake-out/examples/models/llama/llama_main\n",
    );
  });

  it("refuses, in a real run, a board whose device tree is not a Raspberry Pi 5", async () => {
    const dir = await tempDir("pte-farm-pi5-");
    const root = await tempDir("pte-farm-pi5-root-");
    const sysfs = await piSysfs(dir, { model: "Raspberry Pi 4 Model B Rev 1.5" });
    // Under --root the architecture is not checked (a tree can be built for another machine).
    const res = await provision(
      "pi5",
      ["--device", "pi5", "--repo", "o/r", "--root", root, "--sysfs", sysfs],
      {
        PTE_FARM_GITHUB_TOKEN: TOKEN,
      },
    );
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toBe("error: this is not a Raspberry Pi 5 (Raspberry Pi 4 Model B Rev 1.5)");
    expect(res.stdout).not.toMatch(/^(\+|wrote) /m);
  });
});
