/**
 * `node scripts/bench-toolchains.ts [--toolchain latest] [--versions N]`: what watching upstream
 * costs. For a channel of the matrix: the resolution against the package index, its lock's
 * environment built cold (an empty environments folder; pip's download cache as this machine has
 * it) and found again (cached), and the environment's size on disk. Then a bisection over N
 * releases of a small test package served by a local index (scripts/local-index.ts), with real pip
 * and real environments: its wall time and builds against ⌈log2 N⌉ + 2. Prints a markdown table.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { human } from "../actions/src/core/disk.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { buildWheels, pipEnvFor, serveIndex } from "./local-index.ts";

const { values } = parseArgs({ options: { toolchain: { type: "string" }, versions: { type: "string" } } });
const toolchain = values.toolchain ?? "latest";
const n = Number(values.versions ?? "16");
const python = process.env.PTE_FARM_PYTHON ?? path.join(REPO_ROOT, ".venv", "bin", "python");
const cli = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
const work = await mkdtemp(path.join(os.tmpdir(), "pte-farm-bench-toolchains-"));
const envs = path.join(work, "envs");

async function timed(args: string[], env: Record<string, string> = {}): Promise<{ s: number; out: string }> {
  const t = Date.now();
  const r = await execa("node", [cli, ...args], {
    all: true,
    env: { PTE_FARM_PYTHON: python, PTE_FARM_ENVS: envs, ...env },
  });
  return { s: (Date.now() - t) / 1000, out: r.all ?? "" };
}

try {
  const lockFile = path.join(work, `${toolchain}.lock.json`);
  const resolve = await timed(["toolchain", "resolve", toolchain, "--out", lockFile]);
  const lock = JSON.parse(await readFile(lockFile, "utf8")) as { id: string; packages: unknown[] };
  const cold = await timed(["toolchain", "env", lockFile]);
  const cached = await timed(["toolchain", "env", lockFile]);
  const du = await execa("du", ["-sb", path.join(envs, lock.id)]);
  const bytes = Number(du.stdout.split(/\s/)[0]);

  const versions = Array.from({ length: n }, (_, i) => `1.${i}.0`);
  const firstBad = versions[Math.floor(n * 0.7)] as string;
  const wheels = await buildWheels(
    path.join(work, "wheels"),
    "ptefarm-bench",
    versions.map((v) => ({
      version: v,
      body: `BROKEN = ${versions.indexOf(v) >= versions.indexOf(firstBad) ? "True" : "False"}`,
    })),
    python,
  );
  const index = await serveIndex("ptefarm-bench", wheels);
  const pipEnv = pipEnvFor(index);
  const good = path.join(work, "good.lock.json");
  const bad = path.join(work, "bad.lock.json");
  const farm = await readFile(path.join(REPO_ROOT, "matrix", "farm.yml"), "utf8");
  await writeFile(path.join(work, "good.txt"), `ptefarm-bench==${versions[0]}\n`);
  await writeFile(path.join(work, "bad.txt"), `ptefarm-bench==${versions[n - 1]}\n`);
  const matrix = path.join(work, "farm.yml");
  await writeFile(
    matrix,
    farm.replace(
      "toolchains:\n",
      `toolchains:\n  g:\n    requirements: ${path.join(work, "good.txt")}\n  b:\n    requirements: ${path.join(work, "bad.txt")}\n`,
    ),
  );
  await timed(["toolchain", "resolve", "g", "--matrix", matrix, "--out", good], pipEnv);
  await timed(["toolchain", "resolve", "b", "--matrix", matrix, "--out", bad], pipEnv);
  const run = `python -c "import sys, ptefarm_bench as p; sys.exit(1 if p.BROKEN else 0)"`;
  const bisect = await timed(
    ["bisect", "--run", run, "--good", good, "--bad", bad, "--out", path.join(work, "bisect")],
    pipEnv,
  );
  const record = JSON.parse(await readFile(path.join(work, "bisect", "bisect.json"), "utf8")) as {
    first_bad: string;
    builds: number;
  };
  await index.close();

  process.stdout.write(
    [
      `| measure | ${toolchain} (${lock.packages.length} packages, lock ${lock.id}) |`,
      "|---|---:|",
      `| resolve against the package index | ${resolve.s.toFixed(1)} s |`,
      `| environment build, cold | ${cold.s.toFixed(1)} s |`,
      `| environment, cached | ${cached.s.toFixed(1)} s |`,
      `| environment on disk | ${human(bytes)} |`,
      `| bisection over ${n} releases (local index, real pip) | ${bisect.s.toFixed(1)} s, ${record.builds} builds (bound ${Math.ceil(Math.log2(n)) + 2}), first bad ${record.first_bad} (chosen: ${firstBad}) |`,
      "",
    ].join("\n"),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
