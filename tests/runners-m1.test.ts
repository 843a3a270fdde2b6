/**
 * runners/m1/provision.sh in dry-run (there is no Mac here; the plan says which macOS probes it
 * could not make): the launchd daemon, parsed with Python's plistlib as launchd would read it.
 */
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { realPython, tempDir } from "./helpers/env.ts";
import { fakeRunnerTarball, plannedFile, provision } from "./helpers/runners.ts";

const TOKEN = "ghp_M1TESTONLY0123456789abcdefghijklmnop";
const PLIST = "/Library/LaunchDaemons/dev.pte-farm.runner.m1.plist";

async function dryRun() {
  const dir = await tempDir("pte-farm-m1-");
  return provision(
    "m1",
    [
      "--device",
      "m1",
      "--repo",
      "octo-org/edge-farm",
      "--dry-run",
      "--runner-tarball",
      await fakeRunnerTarball(dir),
    ],
    { PTE_FARM_GITHUB_TOKEN: TOKEN },
  );
}

describe("runners/m1/provision.sh --dry-run", () => {
  it(`plans a launchd daemon at ${PLIST} that starts one just-in-time runner per job`, async () => {
    const res = await dryRun();
    expect(res.exitCode).toBe(0);
    const plist = plannedFile(res.stdout, PLIST);
    const parsed = await execa(
      realPython,
      ["-c", "import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))"],
      { input: plist },
    );
    expect(JSON.parse(parsed.stdout)).toEqual({
      Label: "dev.pte-farm.runner.m1",
      ProgramArguments: ["/bin/bash", "/opt/pte-farm/bin/pte-farm-runner", "once", "/etc/pte-farm/m1.conf"],
      RunAtLoad: true,
      KeepAlive: true,
      ThrottleInterval: 15,
      StandardOutPath: "/var/log/pte-farm-runner-m1.log",
      StandardErrorPath: "/var/log/pte-farm-runner-m1.log",
      EnvironmentVariables: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin" },
    });
    expect(res.stdout).toContain(`[dry-run] would run: launchctl bootstrap system ${PLIST}`);
    expect(res.stdout).not.toContain("systemd");
  });

  it("plans the m1 labels from matrix/farm.yml, the toolchain with Homebrew's Python 3.12, and llama_main", async () => {
    const res = await dryRun();
    expect(plannedFile(res.stdout, "/etc/pte-farm/m1.conf")).toContain("LABELS=self-hosted,macOS,ARM64,m1\n");
    expect(res.stdout).toContain("[dry-run] would run: python3.12 -m venv /opt/pte-farm/toolchains/stable");
    expect(res.stdout).toMatch(
      /env PATH=\/opt\/pte-farm\/toolchains\/stable\/bin:\/opt\/homebrew\/bin:\S+ cmake --workflow --preset llm-release/,
    );
    const env = plannedFile(res.stdout, "/opt/pte-farm/runners/m1/.env");
    expect(env).toMatch(/^PATH=\/opt\/homebrew\/bin:/m);
    expect(env).toContain("PTE_FARM_PYTHON=/opt/pte-farm/toolchains/stable/bin/python\n");
  });

  it("names what it could not check from another OS, and what a real run still needs", async () => {
    const res = await dryRun();
    expect(res.stdout).toContain("note: dry run on Linux");
    expect(res.stdout).toContain("not checked (dry run elsewhere): cmake (brew install cmake)");
    expect(res.stdout).toContain("[dry-run] would run: pmset -c sleep 0 disksleep 0");
    expect(res.stdout).toMatch(
      /a real run also needs:\n {2}- a standard user for jobs: sudo sysadminctl -addUser pte-farm /,
    );
    expect(`${res.stdout}${res.stderr}`).not.toContain(TOKEN);
  });
});
