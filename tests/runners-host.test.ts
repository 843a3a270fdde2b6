/**
 * runners/host/provision.sh for real, into a temp root: the same code path the Pi, the Mac and the
 * FVP take (toolchain check, runner archive, configuration, root-only token, systemd unit), with
 * GitHub played by the local server that holds every request to GitHub's OpenAPI description.
 * The unit's own ExecStartPre/ExecStart command lines are then run as systemd would run them, so
 * the just-in-time registration is exercised end to end. What cannot run here: systemd starting
 * the unit (no systemd as PID 1), useradd and apt (skipped under --root, and said so).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, readlink, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { beforeEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { realPython, tempDir } from "./helpers/env.ts";
import { errorReply, type GitHubRequest, useGitHubServer } from "./helpers/github-server.ts";
import {
  fakeRunnerTarball,
  GITHUB_ARCH,
  provision,
  selfHostedHostMatrix,
  snapshot,
} from "./helpers/runners.ts";

const TOKEN = "github_pat_11TESTONLY0123456789_abcdefghijklmnopqrstuvwxyz";
const DEVICE = "host-lab";
const VENV = path.dirname(path.dirname(realPython));

const jitRequests: GitHubRequest[] = [];
let nextRunnerId = 40;

const server = useGitHubServer((s) => {
  s.handle("actions/list-self-hosted-runners-for-repo", () => ({
    status: 200,
    body: { total_count: 0, runners: [] },
  }));
  s.handle("actions/generate-runner-jitconfig-for-repo", (req) => {
    jitRequests.push(req);
    const body = req.body as { name: string; labels: string[]; runner_group_id: number };
    const id = nextRunnerId++;
    return {
      status: 201,
      body: {
        runner: {
          id,
          runner_group_id: body.runner_group_id,
          name: body.name,
          os: "unknown",
          status: "offline",
          busy: false,
          ephemeral: true,
          labels: body.labels.map((name, i) => ({ id: i + 1, name, type: "custom" })),
        },
        encoded_jit_config: Buffer.from(JSON.stringify({ runner: id, name: body.name })).toString("base64"),
      },
    };
  });
});

beforeEach(() => {
  jitRequests.length = 0;
});

interface Setup {
  root: string;
  /** The options of a full run; `over` replaces options by name (value null: drop it). */
  args: (over?: Record<string, string | null>) => string[];
}

async function setup(): Promise<Setup> {
  const work = await tempDir("pte-farm-runner-");
  const root = path.join(work, "root");
  await mkdir(root);
  const base: Record<string, string> = {
    "--device": DEVICE,
    "--matrix": await selfHostedHostMatrix(work, DEVICE),
    "--repo": "octo-org/edge-farm",
    "--api-url": server().url,
    "--runner-tarball": await fakeRunnerTarball(work),
    "--python-venv": VENV,
    "--root": root,
  };
  const args = (over: Record<string, string | null> = {}) =>
    Object.entries({ ...base, ...over }).flatMap(([k, v]) => (v === null ? [] : [k, v]));
  return { root, args };
}

const UNIT = `/etc/systemd/system/pte-farm-runner-${DEVICE}.service`;
const CONF = `/etc/pte-farm/${DEVICE}.conf`;
const TOKEN_FILE = `/etc/pte-farm/${DEVICE}.token`;
const RUNNER_DIR = `/opt/pte-farm/runners/${DEVICE}`;

/** The unit's command line for `key` (ExecStartPre or ExecStart), as systemd would run it. */
function unitCommand(unit: string, key: string): string[] {
  const line = unit.split("\n").find((l) => l.startsWith(`${key}=`));
  if (line === undefined) throw new Error(`the unit has no ${key}`);
  // "+" runs the command with full privileges; %t is the system runtime directory.
  return line
    .slice(key.length + 1)
    .replace(/^\+/, "")
    .replaceAll("%t", "/run")
    .split(" ");
}

/** Starts the service once, as systemd would: RuntimeDirectory, ExecStartPre, then ExecStart. */
async function startUnitOnce(root: string) {
  const unit = await readFile(path.join(root, UNIT), "utf8");
  await mkdir(path.join(root, "run", `pte-farm-runner-${DEVICE}`), { recursive: true, mode: 0o700 });
  const env = { PTE_FARM_ROOT: root };
  const [preCmd, ...preArgs] = unitCommand(unit, "ExecStartPre");
  const pre = await execa("bash", [path.join(root, preCmd ?? ""), ...preArgs], { env, reject: false });
  const [runCmd, ...runArgs] = unitCommand(unit, "ExecStart");
  const run = await execa("bash", [path.join(root, runCmd ?? ""), ...runArgs], { env, reject: false });
  return { pre, run, jitFile: path.join(root, preArgs[preArgs.length - 1] ?? "") };
}

describe("runners/host/provision.sh, for real into a temp root against the OpenAPI-validating GitHub server", () => {
  it("installs the runner, its configuration, a root-only token and a systemd unit that registers just in time", async () => {
    const { root, args } = await setup();
    const without = await provision("host", args());
    expect(without.exitCode).toBe(2);
    expect(without.stderr).toContain("a GitHub token that can manage self-hosted runners");
    expect(await snapshot(root)).toEqual(new Map()); // stopped before installing anything

    const first = await provision("host", [...args(), "--token-file", "-"], {}, `${TOKEN}\n`);
    expect(first.stderr).toBe("");
    expect(first.exitCode).toBe(0);

    const unit = await readFile(path.join(root, UNIT), "utf8");
    expect(unit).toContain(
      `ExecStartPre=+/opt/pte-farm/bin/pte-farm-runner jitconfig ${CONF} %t/pte-farm-runner-${DEVICE}/jitconfig`,
    );
    expect(unit).toContain(
      `ExecStart=/opt/pte-farm/bin/pte-farm-runner run ${CONF} %t/pte-farm-runner-${DEVICE}/jitconfig`,
    );
    expect(unit).toMatch(/^User=pte-farm$/m);
    expect(unit).toMatch(/^Restart=always$/m);

    const conf = await readFile(path.join(root, CONF), "utf8");
    expect(conf).toContain(`LABELS=self-hosted,linux,${GITHUB_ARCH},${DEVICE}\n`);
    expect(conf).toContain(`API_URL=${server().url}\n`);
    expect(conf).toContain("SCOPE=repos/octo-org/edge-farm\n");
    expect(conf).toContain(`TOKEN_FILE=${TOKEN_FILE}\n`);

    const env = await readFile(path.join(root, RUNNER_DIR, ".env"), "utf8");
    expect(env).toContain(`PTE_FARM_PYTHON=${VENV}/bin/python\n`);
    expect(env).toContain(`PTE_FARM_DEVICE=${DEVICE}\n`);
    expect(existsSync(path.join(root, RUNNER_DIR, "run.sh"))).toBe(true);
    expect(existsSync(path.join(root, RUNNER_DIR, "bin", "Runner.Listener"))).toBe(true);

    expect(await readFile(path.join(root, TOKEN_FILE), "utf8")).toBe(`${TOKEN}\n`);
    expect((await stat(path.join(root, TOKEN_FILE))).mode & 0o777).toBe(0o600);

    // The token was checked once against GitHub, and nothing was registered yet: the unit does that.
    expect(server().requestsFor("actions/list-self-hosted-runners-for-repo")).toHaveLength(1);
    expect(jitRequests).toHaveLength(0);
    expect(first.stdout).toContain("skip (--root): user pte-farm exists on the running system only");
    expect(first.stdout).toMatch(/provisioned host-lab: \d+ change\(s\)$/m);
    // `systemctl --root` enabled it offline: the [Install] symlink, pointing where it will on the machine.
    const wants = path.join(
      root,
      `etc/systemd/system/multi-user.target.wants/pte-farm-runner-${DEVICE}.service`,
    );
    expect(await readlink(wants)).toBe(UNIT);
  });

  it("changes nothing on a second run, and says so (a dry run after it plans nothing either)", async () => {
    const { root, args } = await setup();
    const first = await provision("host", [...args(), "--token-file", "-"], {}, TOKEN);
    expect(first.stderr).toBe("");
    const before = await snapshot(root);
    const again = await provision("host", args());
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/^nothing to change: host-lab is already provisioned$/m);
    expect(again.stdout).toContain(`ok: token kept in ${TOKEN_FILE}`);
    expect(await snapshot(root)).toEqual(before);
    const dry = await provision("host", [...args(), "--dry-run"]);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/^dry run: nothing would change \(already provisioned\); nothing was done$/m);
    expect(await snapshot(root)).toEqual(before);
  });

  it("registers a fresh just-in-time runner with the device's labels at every start, and hands its config to the runner once", async () => {
    const { root, args } = await setup();
    expect((await provision("host", [...args(), "--token-file", "-"], {}, TOKEN)).exitCode).toBe(0);

    const first = await startUnitOnce(root);
    expect(first.pre.stderr).toBe("");
    expect(first.pre.exitCode).toBe(0);
    expect(first.run.exitCode).toBe(0);
    expect(jitRequests).toHaveLength(1);
    const request = jitRequests[0];
    expect(request?.params).toEqual({ owner: "octo-org", repo: "edge-farm" });
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request?.body).toMatchObject({
      runner_group_id: 1,
      labels: ["self-hosted", "linux", GITHUB_ARCH, DEVICE],
      work_folder: "_work",
    });
    const body = request?.body as { name: string };
    expect(body.name).toMatch(new RegExp(`^${DEVICE}-[A-Za-z0-9-]+-\\d{14}-\\d+$`));
    expect(first.pre.stdout).toContain(`registered just-in-time runner ${body.name}`);

    const runArgs = (await readFile(path.join(root, RUNNER_DIR, ".fake-run-args"), "utf8"))
      .trim()
      .split("\n");
    expect(runArgs[0]).toBe("--jitconfig");
    expect(JSON.parse(Buffer.from(runArgs[1] ?? "", "base64").toString())).toEqual({
      runner: 40,
      name: body.name,
    });
    expect(existsSync(first.jitFile)).toBe(false); // single use: gone before the runner starts

    const second = await startUnitOnce(root);
    expect(second.pre.exitCode).toBe(0);
    expect(jitRequests).toHaveLength(2);
    expect(jitRequests[1]?.body).not.toMatchObject({ name: body.name });
  });

  it("registers an organization runner through the organization's endpoint", async () => {
    const { root, args } = await setup();
    const orgRequests: GitHubRequest[] = [];
    server()
      .handle("actions/list-self-hosted-runners-for-org", () => ({
        status: 200,
        body: { total_count: 0, runners: [] },
      }))
      .handle("actions/generate-runner-jitconfig-for-org", (req) => {
        orgRequests.push(req);
        const body = req.body as { name: string };
        return {
          status: 201,
          body: {
            runner: { id: 7, name: body.name, os: "unknown", status: "offline", busy: false, labels: [] },
            encoded_jit_config: "b3JnLWNvbmZpZw==",
          },
        };
      });
    const res = await provision("host", args({ "--repo": null, "--org": "octo-org" }), {
      PTE_FARM_GITHUB_TOKEN: TOKEN,
    });
    expect(res.exitCode).toBe(0);
    expect(await readFile(path.join(root, CONF), "utf8")).toContain("SCOPE=orgs/octo-org\n");
    const { pre, run } = await startUnitOnce(root);
    expect(pre.exitCode).toBe(0);
    expect(run.exitCode).toBe(0);
    expect(orgRequests.map((r) => r.params)).toEqual([{ org: "octo-org" }]);
    expect(jitRequests).toHaveLength(0);
    const runArgs = await readFile(path.join(root, RUNNER_DIR, ".fake-run-args"), "utf8");
    expect(runArgs).toBe("--jitconfig\nb3JnLWNvbmZpZw==\n");
  });

  it("keeps the token out of every file but the root-only one, and out of all output, dry runs included", async () => {
    const { root, args } = await setup();
    const dry = await provision("host", [...args(), "--dry-run"], { PTE_FARM_GITHUB_TOKEN: TOKEN });
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain(`would write ${TOKEN_FILE} (mode 600, secret: content not shown)`);
    const real = await provision("host", args(), { PTE_FARM_GITHUB_TOKEN: TOKEN });
    expect(real.exitCode).toBe(0);
    const start = await startUnitOnce(root);
    for (const out of [
      dry.stdout,
      dry.stderr,
      real.stdout,
      real.stderr,
      start.pre.stdout,
      start.pre.stderr,
    ]) {
      expect(out).not.toContain(TOKEN);
    }
    const holders: string[] = [];
    for (const [rel, entry] of await snapshot(root)) {
      if (entry.kind !== "file") continue;
      if ((await readFile(path.join(root, rel), "utf8")).includes(TOKEN)) {
        holders.push(rel);
        expect(entry.mode & 0o077).toBe(0);
      }
    }
    expect(holders).toEqual([TOKEN_FILE.slice(1)]);
  });

  it.skipIf(!existsSync("/usr/bin/systemd-analyze"))(
    "writes a unit that systemd-analyze verify accepts",
    async () => {
      const { root, args } = await setup();
      expect((await provision("host", args(), { PTE_FARM_GITHUB_TOKEN: TOKEN })).exitCode).toBe(0);
      // verify checks that the executables exist, so the unit's absolute paths point into the tree.
      const unit = (await readFile(path.join(root, UNIT), "utf8"))
        .replaceAll("/opt/pte-farm", `${root}/opt/pte-farm`)
        .replaceAll("/etc/pte-farm", `${root}/etc/pte-farm`);
      const copy = path.join(path.dirname(root), `pte-farm-runner-${DEVICE}.service`);
      await writeFile(copy, unit);
      const res = await execa("systemd-analyze", ["verify", copy], { reject: false });
      expect(res.stderr.split("\n").filter((l) => l.includes("pte-farm"))).toEqual([]);
      expect(res.exitCode).toBe(0);
    },
  );

  it("stops with what to fix, and without the token, when GitHub rejects it", async () => {
    const { root, args } = await setup();
    server().handle("actions/list-self-hosted-runners-for-repo", () => errorReply(401, "Bad credentials"));
    const res = await provision("host", args(), { PTE_FARM_GITHUB_TOKEN: TOKEN });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(`GitHub rejected the token in ${TOKEN_FILE} (401 Bad credentials)`);
    expect(res.stderr).toContain("--token-file");
    expect(`${res.stdout}${res.stderr}`).not.toContain(TOKEN);
    expect(existsSync(path.join(root, UNIT))).toBe(false);
  });

  it("a start whose token lost its permission fails with the permission to grant", async () => {
    const { root, args } = await setup();
    expect((await provision("host", args(), { PTE_FARM_GITHUB_TOKEN: TOKEN })).exitCode).toBe(0);
    server().handle("actions/generate-runner-jitconfig-for-repo", () =>
      errorReply(403, "Resource not accessible by personal access token"),
    );
    const { pre } = await startUnitOnce(root);
    expect(pre.exitCode).toBe(2);
    expect(pre.stderr).toContain(
      "cannot manage the self-hosted runners of repos/octo-org/edge-farm (HTTP 403",
    );
    expect(pre.stderr).toContain("Administration: read and write");
  });

  it("refuses a device that runs on GitHub-hosted labels (host-x86_64 in matrix/farm.yml)", async () => {
    const { args } = await setup();
    const res = await provision("host", args({ "--device": "host-x86_64", "--matrix": null }));
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("host-x86_64 runs on [ubuntu-24.04]");
    expect(res.stderr).toContain("fork pull requests included");
  });

  it("refuses a venv that does not hold the pins, naming the first one it lacks", async () => {
    const { args } = await setup();
    const bare = path.join(await tempDir("pte-farm-venv-"), "venv");
    await execa(realPython, ["-m", "venv", "--without-pip", bare]);
    await execa(path.join(bare, "bin", "python"), ["-m", "ensurepip", "--default-pip"]);
    const res = await provision("host", args({ "--python-venv": bare }), { PTE_FARM_GITHUB_TOKEN: TOKEN });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(
      /--python-venv \S+ does not hold the pins \(ERROR: Could not find a version that satisfies the requirement \S+==/,
    );
  });

  it("refuses an archive that is not an actions/runner release", async () => {
    const { args } = await setup();
    const bogus = path.join(await tempDir(), "bogus.tar.gz");
    await execa("tar", ["-czf", bogus, "-C", REPO_ROOT, "Makefile"]);
    const res = await provision("host", args({ "--runner-tarball": bogus }), {
      PTE_FARM_GITHUB_TOKEN: TOKEN,
    });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain("is not an actions/runner release (no run.sh at its top)");
  });
});
