/**
 * `pte-farm dashboard build` from a generated history with known states (scripts/dashboard-
 * histories.ts exampleHistory): what each cell's square says, what a cell page holds, the same site
 * from a folder, a compacted git data branch and PostgreSQL, and bad input as exit 2 that says
 * what to fix. The pages themselves are tested in Chromium (dashboard-browser.test.ts).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../actions/src/cli/main.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { DEFAULT_MATRIX } from "../actions/src/core/paths.ts";
import { buildDashboard } from "../actions/src/dashboard/build.ts";
import { serveSite } from "../actions/src/dashboard/serve.ts";
import type { GitBranchStore } from "../actions/src/history/git-branch.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { HISTORY_URL_ENV, openStore } from "../actions/src/history/open.ts";
import { loadFarm } from "../matrix/load.ts";
import type { CellPage, Overview } from "../reports/dashboard/model.ts";
import { cellKey } from "../reports/dashboard/model.ts";
import type { UpstreamPage } from "../reports/dashboard/upstream-page.ts";
import { exampleHistory, HOSTILE_MODEL } from "../scripts/dashboard-histories.ts";
import { SYNTHETIC_EXECUTORCH, writeSyntheticHistory } from "../scripts/synthetic-history.ts";
import { type PgServer, startPostgres } from "../scripts/throwaway-postgres.ts";

const payload = <T>(text: string): T =>
  JSON.parse(text.slice(text.indexOf(",") + 1, text.lastIndexOf(")"))) as T;
const read = async <T>(file: string) => payload<T>(await readFile(file, "utf8"));

let root: string;
let history: string;
let site: string;
let overview: Overview;
let server: PgServer | undefined;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "pte-farm-dash-"));
  history = path.join(root, "history");
  site = path.join(root, "site");
  await writeSyntheticHistory(history, exampleHistory());
  await buildDashboard({
    history: `dir:${history}`,
    out: site,
    repoUrl: "https://github.com/org/farm",
    logger: new RecordingLogger(),
  });
  overview = await read<Overview>(path.join(site, "data", "overview.js"));
}, 120_000);

afterAll(async () => {
  delete process.env[HISTORY_URL_ENV];
  await server?.stop();
  await rm(root, { recursive: true, force: true });
});

const cell = (id: string) => {
  const c = overview.cells.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no ${id} in the overview`);
  return c;
};
const page = (id: string) => read<CellPage>(path.join(site, "data", "cells", `${cellKey(id)}.js`));

describe("dashboard build", () => {
  it("gives every cell the state its history shows, with words as well as the state", () => {
    const states = Object.fromEntries(overview.cells.map((c) => [c.id, [c.state, c.label]]));
    expect(states).toEqual({
      "tiny-llama/fp32/portable/host-x86_64@stable": ["pass", "pass"],
      "tiny-llama/fp32/portable/host-x86_64@latest": ["pass", "pass"],
      "tiny-llama/fp32/portable/pi5@stable": ["infra", "infra-error"],
      "tiny-llama/fp32/portable/m1@stable": ["inconclusive", "no clean reps"],
      "tiny-llama/fp32/xnnpack/host-x86_64@stable": ["pass", "pass"],
      "tiny-llama/8da4w-g32/xnnpack/pi5@stable": ["regression", "−9.9% decode, confirmed"],
      "tiny-llama/8da4w-g32/xnnpack/m1@stable": ["regression", "−12.1% decode, candidate"],
      "tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable": ["gate-failed", "diverged at token 17"],
      "tiny-llama/8da4w-g32/xnnpack/pi5@latest": ["stage-failed", "lower failed (known)"],
      "tiny-llama/8da4w-g32/xnnpack/pi5-emu@stable": ["pass", "pass (emulated)"],
      "opt-125m/fp32/portable/host-x86_64@stable": ["skipped", "last ran 2026-11-26"],
      "opt-125m/fp32/portable/host-x86_64@latest": ["pass", "pass"],
      "opt-125m/fp32/ethos-u/corstone-fvp@stable": ["quarantined", "quarantined"],
      [`${HOSTILE_MODEL}/fp32/portable/host-x86_64@stable`]: ["gate-failed", "diverged at token 17"],
      // A canary's square says what its state means for its known issue.
      "tiny-llama/int4-weight-only/xnnpack/host-x86_64@stable": ["stage-failed", "canary: reproduces"],
      "tiny-llama/int4-weight-only/xnnpack/host-x86_64@latest": ["pass", "canary: possibly fixed upstream"],
      "tiny-llama/8da4w-g32/portable-raw/host-x86_64@stable": ["stage-failed", "canary: reproduces"],
    });
    expect(cell("opt-125m/fp32/ethos-u/corstone-fvp@stable").detail).toContain("health check bad");
    expect(cell("tiny-llama/8da4w-g32/xnnpack/pi5@latest").detail).toContain(
      "known issue xnnpack-int4-fused-aarch64",
    );
    expect(overview.latest_night?.slice(0, 10)).toBe("2026-12-06");
    expect(overview.records).toBe(2034);
  });

  it("shows what farm-upstream stored: the channels, each canary's state since when, the bisections", async () => {
    const up = await read<UpstreamPage>(path.join(site, "data", "upstream.js"));
    // The channels are the matrix's toolchains resolved from the package index (latest), not stable.
    const farm = await loadFarm(DEFAULT_MATRIX);
    const channels = [...farm.toolchains.values()].filter((t) => t.channel !== null).map((t) => t.name);
    expect(up.channels.map((c) => c.toolchain)).toEqual(channels);
    const latest = overview.cells.filter((c) => c.toolchain === "latest");
    expect(up.channels[0]?.cells).toBe(latest.length);
    expect(up.channels[0]?.states).toEqual({ "stage-failed": 1, pass: latest.length - 1 });

    // Every canary cell of the example is a canary of the matrix, with its known issue's title.
    const canaries = Object.fromEntries(
      up.canaries.map((c) => [c.cell, [c.known_issue, c.state, c.since.slice(0, 10)]]),
    );
    expect(canaries).toEqual({
      "tiny-llama/int4-weight-only/xnnpack/host-x86_64@stable": [
        "torchao-cpu-int4-removed",
        "reproduces",
        "2026-08-09",
      ],
      // Passing on its last 12 nights (from 2026-11-25): possibly fixed upstream, since then.
      "tiny-llama/int4-weight-only/xnnpack/host-x86_64@latest": [
        "torchao-cpu-int4-removed",
        "no-longer-reproduces",
        "2026-11-25",
      ],
      "tiny-llama/8da4w-g32/portable-raw/host-x86_64@stable": [
        "torchao-quantized-embedding-no-out-variants",
        "reproduces",
        "2026-08-09",
      ],
    });
    for (const c of up.canaries) {
      const spec = farm.canaries.find((k) => c.cell.startsWith(`${k.cell}@`));
      expect(spec?.knownIssue, c.cell).toBe(c.known_issue);
      expect(c.title, c.known_issue).toMatch(/\w/);
      expect(c.nights).toBe(120);
      expect(cell(c.cell).canary?.state).toBe(c.state);
    }
    expect(cell("tiny-llama/fp32/portable/host-x86_64@stable").canary).toBeUndefined();

    // Bisections newest first; one of a cell links to its page, a command's names no cell.
    expect(up.bisects.map((b) => [b.started_at.slice(0, 10), b.verdict, b.cell, b.key !== null])).toEqual([
      [
        "2026-12-04",
        "inconclusive-infrastructure",
        `${HOSTILE_MODEL}/fp32/portable/host-x86_64@stable`,
        true,
      ],
      ["2026-12-02", "found", "tiny-llama/8da4w-g32/xnnpack/pi5@latest", true],
      ["2026-11-17", "interaction", null, false],
    ]);
    expect(up.bisects[1]).toMatchObject({ package: "executorch", last_good: "1.5.0", first_bad: "1.5.1" });
    expect(up.bisects.every((b) => b.id.startsWith("_bisect/"))).toBe(true);
    // The bisected cell's own page lists it; other cells' pages do not.
    const bisected = await page("tiny-llama/8da4w-g32/xnnpack/pi5@latest");
    expect(bisected.bisects.map((b) => b.verdict)).toEqual(["found"]);
    expect((await page("tiny-llama/8da4w-g32/xnnpack/pi5@stable")).bisects).toEqual([]);
    const canaryPage = await page("tiny-llama/int4-weight-only/xnnpack/host-x86_64@latest");
    expect(canaryPage.cell.canary?.state).toBe("no-longer-reproduces");
  });

  it("marks the injected step on the night it began, with its commit range, and the toolchain change", async () => {
    const p = await page("tiny-llama/8da4w-g32/xnnpack/pi5@stable");
    expect(p.change_points).toHaveLength(1);
    const [cp] = p.change_points;
    expect(cp).toMatchObject({ metric: "decode_tokens_per_sec", kind: "regression", confirmed: true });
    expect(cp?.night.slice(0, 10)).toBe("2026-10-28");
    expect(cp?.ratio).toBeCloseTo(0.9, 1);
    expect(cp?.commits.to).not.toBe(cp?.commits.from);
    expect(p.toolchain_changes.map((t) => [t.night.slice(0, 10), t.changes])).toEqual([
      ["2026-11-17", [`executorch ${SYNTHETIC_EXECUTORCH.before} → ${SYNTHETIC_EXECUTORCH.after}`]],
    ]);
    const decode = p.metrics.decode_tokens_per_sec;
    expect(decode?.t).toHaveLength(120);
    // Six clean reps: the distribution-free 95% interval is [min, max] (stats/median-ci.ts).
    expect(decode?.lo.every((lo, i) => lo !== null && lo <= (decode.median[i] as number))).toBe(true);
    expect(p.issues_url).toBe(
      `https://github.com/org/farm/issues?q=${encodeURIComponent(`is:issue "${p.cell.id}"`)}`,
    );
    expect(p.records).toHaveLength(10);
    const newest = JSON.parse(await readFile(path.join(site, p.records[0]?.url ?? ""), "utf8"));
    expect(newest.started_at).toBe(p.cell.latest);
  });

  it("calls a change point found only with the last night a candidate", async () => {
    const p = await page("tiny-llama/8da4w-g32/xnnpack/m1@stable");
    expect(p.change_points.map((c) => [c.night.slice(0, 10), c.confirmed])).toEqual([["2026-11-27", false]]);
    expect(p.change_points[0]?.why).toMatch(/^candidate: first found with the last night/);
  });

  it("keeps flagged reps, gate runs with the first divergence, known issues and the reproduce line", async () => {
    const hot = await page("tiny-llama/fp32/portable/m1@stable");
    expect(hot.metrics.decode_tokens_per_sec?.flagged).toHaveLength(6);
    expect(hot.metrics.decode_tokens_per_sec?.flagged[0]?.[2]).toBe("throttled");
    const gate = await page("tiny-llama/8da4w-g32/xnnpack/host-x86_64@stable");
    expect(gate.gate.map((g) => [g.verdict, g.nights])).toEqual([
      ["pass", 117],
      ["fail", 3],
    ]);
    expect(gate.gate[1]?.first_divergence).toContain("token 17");
    const stage = await page("tiny-llama/8da4w-g32/xnnpack/pi5@latest");
    expect(stage.known_issues).toMatchObject([{ id: "xnnpack-int4-fused-aarch64", nights: 5 }]);
    expect(stage.reproduce).toBe(
      "node actions/src/cli/pte-farm.ts run --cells 'tiny-llama/8da4w-g32/xnnpack/pi5@latest'",
    );
  });

  it("derives the devices' quarantine and thermal history, and groups release records by commit", async () => {
    const devices = await read<{
      devices: { device: string; quarantined: boolean; thermal: { t: number[] } }[];
    }>(path.join(site, "data", "devices.js"));
    const fvp = devices.devices.find((d) => d.device === "corstone-fvp");
    expect(fvp?.quarantined).toBe(true);
    expect(devices.devices.find((d) => d.device === "pi5")?.quarantined).toBe(false);
    expect(fvp?.thermal.t).toHaveLength(120);
    const releases = await read<{ releases: { files: { cell: string; bytes: number }[] }[] }>(
      path.join(site, "data", "releases.js"),
    );
    expect(releases.releases).toHaveLength(4);
    expect(releases.releases[0]?.files.map((f) => f.cell)).toEqual([
      "tiny-llama/fp32/xnnpack/host-x86_64@stable",
    ]);
  });
});

describe("dashboard build from each store backend", () => {
  /** Every data file of a site, with what differs by backend (the store's name, the time) left out. */
  async function dataFiles(dir: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const f of await readdir(path.join(dir, "data"), { recursive: true })) {
      if (!f.endsWith(".js")) continue;
      const text = await readFile(path.join(dir, "data", f), "utf8");
      out.set(f, text.replace(/"generated_at":"[^"]*","store":"[^"]*"/, ""));
    }
    return out;
  }

  it("builds the same site from a compacted git data branch and from PostgreSQL as from a folder", async () => {
    const records = (await new LocalFolderStore(history).list()).map((s) => s.record);
    const health = (await new LocalFolderStore(history).listHealth()).map((h) => h.report);
    const bisects = (await new LocalFolderStore(history).listBisects()).map((b) => b.record);
    expect(bisects.length).toBeGreaterThan(0);
    const repo = path.join(root, "farm-data.git");
    await execa("git", ["init", "-q", "--bare", repo]);
    const git = openStore(`git:${repo}`);
    // Batches: GitBranchStore lists every appended path in one commit-tree argument, which Linux
    // caps at 128 KiB (about 1,300 paths).
    for (let i = 0; i < records.length; i += 1000) await git.append(records.slice(i, i + 1000));
    await git.appendHealth(health);
    await git.appendBisects(bisects);
    // Compaction folds run records only: health reports and bisect records stay files of their own.
    await (git as GitBranchStore).compact({ before: "2100-01" });
    server = await startPostgres();
    process.env[HISTORY_URL_ENV] = await server.database("dashboard");
    const pg = openStore("postgres");
    await pg.append(records);
    await pg.appendHealth(health);
    await pg.appendBisects(bisects);
    const want = await dataFiles(site);
    for (const spec of [`git:${repo}`, "postgres"]) {
      const out = path.join(root, `site-${spec.slice(0, 3)}`);
      await buildDashboard({
        history: spec,
        out,
        repoUrl: "https://github.com/org/farm",
        logger: new RecordingLogger(),
      });
      expect(await dataFiles(out), spec).toEqual(want);
    }
  }, 300_000);
});

describe("dashboard serve", () => {
  it("serves the built site's files and nothing outside it", async () => {
    const { server, url } = await serveSite(site);
    try {
      const index = await fetch(new URL("index.html", url));
      expect(index.status).toBe(200);
      expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(await index.text()).toContain('<script src="overview.js"></script>');
      expect((await fetch(new URL("data/overview.js", url))).headers.get("content-type")).toContain(
        "javascript",
      );
      expect((await fetch(`${url}..%2f..%2f..%2fetc%2fpasswd`)).status).toBe(403);
      expect((await fetch(new URL("nothing-here.js", url))).status).toBe(404);
      expect((await fetch(new URL("index.html", url), { method: "POST" })).status).toBe(405);
    } finally {
      server.close();
    }
  });
});

describe("dashboard build: bad input", () => {
  const run = async (...argv: string[]) => {
    const logger = new RecordingLogger();
    const code = await main(["dashboard", ...argv], logger);
    return { code, text: logger.lines.map((l) => l.message).join("\n") };
  };

  it("exits 2 naming a store that does not exist", async () => {
    const r = await run(
      "build",
      "--history",
      `dir:${path.join(root, "nowhere")}`,
      "--out",
      path.join(root, "x"),
    );
    expect(r.code).toBe(2);
    expect(r.text).toContain("does not exist; point it at a history store");
  });

  it("exits 2 naming the record that fails its schema, and what to do", async () => {
    const bad = path.join(root, "bad-history");
    const cellDir = path.join(bad, "m", "r", "b", "d@t");
    await mkdir(cellDir, { recursive: true });
    await writeFile(path.join(cellDir, "2026-01.jsonl"), '{"schema":"pte-farm/run@1","cell":{}}\n');
    const r = await run("build", "--history", `dir:${bad}`, "--out", path.join(root, "y"));
    expect(r.code).toBe(2);
    expect(r.text).toContain("m/r/b/d@t/2026-01.jsonl:1");
    expect(r.text).toContain("fix or remove it");
  });

  it("exits 2 on an empty history and on a missing --out", async () => {
    const empty = path.join(root, "empty");
    await mkdir(empty);
    const r = await run("build", "--history", `dir:${empty}`, "--out", path.join(root, "z"));
    expect(r.code).toBe(2);
    expect(r.text).toContain("no run records in it");
    expect((await run("build", "--history", `dir:${empty}`)).code).toBe(2);
    expect(
      (await run("build", "--history", `dir:${history}`, "--out", root, "--repo-url", "javascript:alert(1)"))
        .code,
    ).toBe(2);
  });

  it("exits 2 rather than replace a folder that is not an earlier build, and leaves it alone", async () => {
    const mine = path.join(root, "mine");
    await mkdir(mine);
    await writeFile(path.join(mine, "notes.txt"), "keep me");
    const r = await run("build", "--history", `dir:${history}`, "--out", mine);
    expect(r.code).toBe(2);
    expect(r.text).toContain("holds files that are not a dashboard build");
    expect(await readFile(path.join(mine, "notes.txt"), "utf8")).toBe("keep me");
    // An earlier build is replaced.
    expect((await run("build", "--history", `dir:${history}`, "--out", site)).code).toBe(0);
  });
});
