/**
 * `pte-farm bisect` against a package index with a known answer: real wheels of a small test
 * package (tests/helpers/local-index.ts), served over HTTP, installed by real pip into real
 * environments, one per step lock. The search, skip (does not install; fails differently), retry
 * (the index answers 503 once) and infrastructure-abort (it never answers) paths each end in a
 * bisect record whose answer and steps are checked. The cell probe over the ExecuTorch toolchain
 * runs in tests/toolchains.test.ts.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conflictingPins } from "../actions/src/bisect/locks.ts";
import { observeRecord } from "../actions/src/bisect/probes.ts";
import { bisectRecord } from "../actions/src/bisect/record.ts";
import { between, orderChanges } from "../actions/src/bisect/search.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parse } from "../actions/src/core/validate.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { buildWheels, type LocalIndex, pipEnvFor, serveIndex, writeText } from "../scripts/local-index.ts";
import { hasRealPython, realPython } from "./helpers/env.ts";
import { sampleRecord } from "./helpers/record.ts";

const PROJECT = "ptefarm-probe";
const FIRST_BAD = "1.5.0";
const VERSIONS = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0"];
// The run command: exit 1 when the package is broken (the failure bisected), 2 when it fails otherwise.
const RUN = `python -c "import sys, ptefarm_probe as p; sys.exit(2 if getattr(p, 'ODD', False) else 1 if p.BROKEN else 0)"`;

let work: string;
let index: LocalIndex;
let python: string;

/** 1.3.0 fails differently (exit 2); 1.4.0 needs a package no index has, so it does not install. */
function behaviour(v: string) {
  const broken = VERSIONS.indexOf(v) >= VERSIONS.indexOf(FIRST_BAD);
  if (v === "1.3.0") return { version: v, body: "BROKEN = False\nODD = True" };
  if (v === "1.4.0") return { version: v, body: "BROKEN = False", requires: ["ptefarm-nowhere==9.9"] };
  return { version: v, body: `BROKEN = ${broken ? "True" : "False"}` };
}

async function matrixWith(dir: string): Promise<string> {
  const farm = await readFile(path.join(REPO_ROOT, "matrix", "farm.yml"), "utf8");
  await writeText(path.join(dir, "good.txt"), `${PROJECT}==1.0.0\n`);
  await writeText(path.join(dir, "bad.txt"), `${PROJECT}==1.7.0\n`);
  const file = path.join(dir, "farm.yml");
  await writeText(
    file,
    farm.replace(
      "toolchains:\n",
      `toolchains:\n  probe-good:\n    requirements: ${path.join(dir, "good.txt")}\n  probe-bad:\n    requirements: ${path.join(dir, "bad.txt")}\n`,
    ),
  );
  return file;
}

async function pteFarm(args: string[], extra: Record<string, string> = {}) {
  return execa("node", [path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts"), ...args], {
    reject: false,
    all: true,
    env: { ...pipEnvFor(index), PTE_FARM_ENVS: path.join(work, "envs"), PTE_FARM_PYTHON: python, ...extra },
  });
}

async function lockFiles(): Promise<{ good: string; bad: string }> {
  const matrix = await matrixWith(work);
  const good = path.join(work, "good.lock.json");
  const bad = path.join(work, "bad.lock.json");
  for (const [name, out] of [
    ["probe-good", good],
    ["probe-bad", bad],
  ] as const) {
    if (existsSync(out)) continue;
    const r = await pteFarm(["toolchain", "resolve", name, "--matrix", matrix, "--out", out]);
    expect(r.exitCode, r.all).toBe(0);
  }
  return { good, bad };
}

async function runBisect(out: string) {
  const { good, bad } = await lockFiles();
  const r = await pteFarm(["bisect", "--run", RUN, "--good", good, "--bad", bad, "--out", out]);
  const json = existsSync(path.join(out, "bisect.json"))
    ? parse(bisectRecord, JSON.parse(await readFile(path.join(out, "bisect.json"), "utf8")), "bisect.json")
    : null;
  return { r, record: json };
}

beforeAll(async () => {
  python = realPython;
  work = await mkdtemp(path.join(tmpdir(), "pte-farm-bisect-"));
  const wheels = await buildWheels(path.join(work, "wheels"), PROJECT, VERSIONS.map(behaviour), python);
  index = await serveIndex(PROJECT, wheels);
}, 120_000);

afterAll(async () => {
  await index?.close();
  await rm(work, { recursive: true, force: true });
});

describe.skipIf(!hasRealPython)(
  "pte-farm bisect over a local package index (real pip, real environments)",
  () => {
    it("names the first bad release, steps around one that does not install and one that fails differently, within ⌈log2 N⌉ + 2 builds", async () => {
      const out = path.join(work, "found");
      const { r, record } = await runBisect(out);
      expect(r.exitCode, r.all).toBe(0);
      expect(record).not.toBeNull();
      if (record === null) return;
      expect(record.verdict).toBe("found");
      expect(record.package).toBe(PROJECT);
      expect(record.first_bad).toBe(FIRST_BAD);
      // 1.3.0 and 1.4.0 could not be tested, so the answer is a range down to the last good release.
      expect(record.last_good).toBe("1.2.0");
      expect(record.untestable).toEqual(["1.3.0", "1.4.0"]);
      const reasons = record.steps
        .filter((s) => s.verdict === "skip")
        .map((s) => `${s.version}: ${s.reason}`);
      expect(reasons.join("\n")).toMatch(/1\.3\.0: fails differently \(command: exit 2\)/);
      expect(reasons.join("\n")).toMatch(
        /1\.4\.0: does not install with the rest held: toolchain incompatible/,
      );
      expect(record.builds).toBeLessThanOrEqual(Math.ceil(Math.log2(VERSIONS.length)) + 2);
      expect(record.released_between).toBe(VERSIONS.length - 2);
      expect(record.evidence).toMatchObject({ stage: "command", signature: "exit 1" });
      const md = await readFile(path.join(out, "bisect.md"), "utf8");
      expect(md).toContain(`**${PROJECT} ${FIRST_BAD}** first breaks it`);
      expect(record.reproduce).toContain("toolchain env");
    }, 300_000);

    it("resumes an interrupted bisection from its kept steps: no environment is built or run again", async () => {
      const out = path.join(work, "found");
      const before = index.requests.length;
      const { r, record } = await runBisect(out);
      expect(r.exitCode, r.all).toBe(0);
      expect(record?.first_bad).toBe(FIRST_BAD);
      expect(record?.steps.every((s) => !s.built)).toBe(true);
      // Only the release list is read again: no wheel is downloaded.
      expect(index.requests.slice(before).filter((u) => u.startsWith("/files/"))).toEqual([]);
    }, 120_000);

    it("retries a step whose wheel the index fails once (infrastructure), and still finds the answer", async () => {
      index.faults.set("1.2.0", { remaining: 1 });
      index.faults.set("1.5.0", { remaining: 1 });
      const { r, record } = await runBisect(path.join(work, "retry"));
      expect(r.exitCode, r.all).toBe(0);
      expect(record?.first_bad).toBe(FIRST_BAD);
      const retried = record?.steps.filter((s) => s.attempts > 1).map((s) => s.version) ?? [];
      expect(retried.sort()).toEqual(["1.2.0", "1.5.0"]);
    }, 300_000);

    it("stops as inconclusive: infrastructure when the index keeps failing, exit 3, naming no release", async () => {
      for (const v of VERSIONS.slice(1, -1)) index.faults.set(v, { remaining: 1000 });
      const { r, record } = await runBisect(path.join(work, "abort"));
      for (const v of VERSIONS) index.faults.delete(v);
      expect(r.exitCode, r.all).toBe(3);
      expect(record?.verdict).toBe("inconclusive-infrastructure");
      expect(record?.first_bad).toBeNull();
      expect(record?.evidence.detail).toMatch(/503|pip/);
      expect(record?.steps.filter((s) => s.verdict === "retry").length).toBe(3);
      expect(r.all).toContain("Inconclusive: infrastructure");
    }, 300_000);

    it("refuses endpoints that do not bracket a failure (exit 2) before searching", async () => {
      const { good } = await lockFiles();
      const r = await pteFarm([
        "bisect",
        "--run",
        RUN,
        "--good",
        good,
        "--bad",
        good,
        "--out",
        path.join(work, "same"),
      ]);
      expect(r.exitCode).toBe(2);
      expect(r.all).toContain("same lock");
      const swapped = await pteFarm([
        "bisect",
        "--run",
        "true",
        "--good",
        good,
        "--bad",
        (await lockFiles()).bad,
        "--out",
        path.join(work, "nofail"),
      ]);
      expect(swapped.exitCode).toBe(2);
      expect(swapped.all).toMatch(/does not fail command/);
    }, 120_000);
  },
);

describe.skipIf(!hasRealPython)("pte-farm bisect --metric: a speed regression over a local index", () => {
  it("names the release that made the metric slower, each step compared with the good lock measured again beside it", async () => {
    const project = "ptefarm-speed";
    const versions = ["2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0"];
    const slowFrom = "2.3.0";
    // Samples around 100 tok/s (±0.6%, a fixed pattern), 20% slower from 2.3.0 on.
    const wheels = await buildWheels(
      path.join(work, "speed-wheels"),
      project,
      versions.map((v) => ({
        version: v,
        body: `SPEED = ${versions.indexOf(v) >= versions.indexOf(slowFrom) ? 80 : 100}`,
      })),
      python,
    );
    const speedIndex = await serveIndex(project, wheels);
    try {
      const env = {
        ...pipEnvFor(speedIndex),
        PTE_FARM_ENVS: path.join(work, "envs"),
        PTE_FARM_PYTHON: python,
      };
      const farm = await readFile(path.join(REPO_ROOT, "matrix", "farm.yml"), "utf8");
      await writeText(path.join(work, "speed-good.txt"), `${project}==2.0.0\n`);
      await writeText(path.join(work, "speed-bad.txt"), `${project}==2.5.0\n`);
      await writeText(path.join(work, "speed-same.txt"), `${project}==2.1.0\n`);
      const matrix = path.join(work, "speed-farm.yml");
      await writeText(
        matrix,
        farm.replace(
          "toolchains:\n",
          `toolchains:\n  sg:\n    requirements: ${path.join(work, "speed-good.txt")}\n  sb:\n    requirements: ${path.join(work, "speed-bad.txt")}\n  s1:\n    requirements: ${path.join(work, "speed-same.txt")}\n`,
        ),
      );
      const cli = path.join(REPO_ROOT, "actions/src/cli/pte-farm.ts");
      const locks: string[] = [];
      for (const name of ["sg", "sb", "s1"]) {
        const out = path.join(work, `${name}.lock.json`);
        const r = await execa("node", [cli, "toolchain", "resolve", name, "--matrix", matrix, "--out", out], {
          reject: false,
          all: true,
          env,
        });
        expect(r.exitCode, r.all).toBe(0);
        locks.push(out);
      }
      const measure = `python -c "
import json, os, ptefarm_speed as p
noise = [1.0, 1.004, 0.996, 1.006, 0.994, 1.002, 0.998, 1.005, 0.995, 1.001, 0.999, 1.003]
json.dump({'decode_tokens_per_sec': {'unit': 'tok/s', 'better': 'higher', 'samples': [p.SPEED * n for n in noise]}}, open(os.environ['PTE_FARM_METRICS'], 'w'))
"`;
      const out = path.join(work, "speed");
      const r = await execa(
        "node",
        [
          cli,
          "bisect",
          "--run",
          measure,
          "--metric",
          "decode_tokens_per_sec",
          "--good",
          locks[0] as string,
          "--bad",
          locks[1] as string,
          "--out",
          out,
        ],
        { reject: false, all: true, env },
      );
      expect(r.exitCode, r.all).toBe(0);
      const record = parse(
        bisectRecord,
        JSON.parse(await readFile(path.join(out, "bisect.json"), "utf8")),
        "bisect.json",
      );
      expect(record.metric).toBe("decode_tokens_per_sec");
      expect(record.first_bad).toBe(slowFrom);
      expect(record.last_good).toBe("2.2.0");
      expect(record.evidence.signature).toBe("decode_tokens_per_sec regression");
      expect(record.evidence.detail).toMatch(/regression: ×0\.8/);
      const searched = record.steps.filter((s) => !s.package.startsWith("("));
      expect(searched.length).toBeGreaterThan(0);
      for (const s of searched)
        expect(s.reason).toMatch(s.verdict === "good" ? /^unchanged/ : /^regression: ×0\.8/);

      // Two ends at the same speed: nothing to bisect (exit 2, before any search).
      const same = await execa(
        "node",
        [
          cli,
          "bisect",
          "--run",
          measure,
          "--metric",
          "decode_tokens_per_sec",
          "--good",
          locks[0] as string,
          "--bad",
          locks[2] as string,
          "--out",
          path.join(work, "speed-same"),
        ],
        { reject: false, all: true, env },
      );
      expect(same.exitCode, same.all).toBe(2);
      expect(same.all).toMatch(/the bad lock is not a regression against the good one \(unchanged/);
    } finally {
      await speedIndex.close();
    }
  }, 300_000);
});

describe("bisection pieces", () => {
  it("reads a cell step's run record: a known issue's id or the message's shape is the signature; incompatible and infrastructure are neither good nor bad", () => {
    const failed = (over: Partial<RunRecord>) => sampleRecord({ status: "fail", ...over });
    const note = (message: string, known: string | null, stage = "lower") => ({
      stage,
      outcome: "stage-failure",
      message,
      known_issue: known,
      triage: "",
      reproduce: "",
    });
    expect(observeRecord(sampleRecord())).toMatchObject({ outcome: "pass" });
    expect(observeRecord(sampleRecord()).metrics).toHaveProperty("decode_tokens_per_sec");
    expect(
      observeRecord(
        failed({
          failure: note(
            "Missing out variants: {'torchao::quantize_affine'}",
            "torchao-quantized-embedding-no-out-variants",
          ),
        }),
      ),
    ).toMatchObject({
      outcome: "fail",
      stage: "lower",
      signature: "known issue torchao-quantized-embedding-no-out-variants",
    });
    // Two runs of one failure in other folders, with other numbers, have one signature.
    const a = observeRecord(
      failed({ failure: note("RuntimeError: tensor 12 at /tmp/a/b.py:40 (0x7f00aa)", null) }),
    );
    const b = observeRecord(
      failed({ failure: note("RuntimeError: tensor 7 at /home/x/b.py:41 (0x7f11bb)", null) }),
    );
    expect(a.signature).toBe(b.signature);
    expect(observeRecord(failed({ failure: null }))).toMatchObject({ outcome: "fail", stage: "gate" });
    const incompatible = {
      ...note("toolchain incompatible: lock x does not load together", null),
      outcome: "infra-failure",
    };
    expect(observeRecord(sampleRecord({ status: "infra-error", failure: incompatible }))).toMatchObject({
      outcome: "incompatible",
    });
    expect(
      observeRecord(sampleRecord({ status: "timeout", failure: note("timed out", null) })),
    ).toMatchObject({ outcome: "infra" });
  });

  it("takes the releases strictly between two versions from the index's order, in either direction", () => {
    const list = ["2.0", "1.9", "1.8", "1.7"];
    expect(between(list, "1.7", "2.0")).toEqual(["1.8", "1.9"]);
    expect(between(list, "2.0+cpu", "1.7")).toEqual(["1.9", "1.8"]);
    expect(between(list, "1.6", "2.0")).toBeNull();
  });

  it("reads which pins pip's conflict report says forced the conflict", () => {
    const evidence = [
      "The conflict is caused by:",
      "    The user requested tokenizers==0.23.3",
      "    transformers 5.12.1 depends on tokenizers<=0.23.0",
    ].join("\n");
    expect(conflictingPins(evidence)).toEqual(["tokenizers"]);
  });

  it("tries upstream packages first", () => {
    const order = orderChanges([
      { name: "regex", from: "1", to: "2" },
      { name: "transformers", from: "5.23.0", to: "5.25.0" },
      { name: "executorch", from: "1.4.1", to: "1.5.1" },
    ]).map((c) => c.name);
    expect(order).toEqual(["executorch", "transformers", "regex"]);
  });
});
