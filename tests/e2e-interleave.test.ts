/**
 * `pte-farm run --base-out` for real on the fastest cell (fp32/portable): base and head measured
 * interleaved in one execute process, two run records sharing a session, both gated; then the
 * records appended to a history folder and exported. Slow (~1 min cold), like e2e-run.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { parseJson } from "../actions/src/core/validate.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { runRecord } from "../actions/src/schemas/run-record.ts";
import { STAGES } from "../actions/src/schemas/stage.ts";
import { hasRealPython, hasRealStage, hasTinyLlama, realPython, tempDir } from "./helpers/env.ts";

const ready = hasRealPython && hasTinyLlama && STAGES.every(hasRealStage);
const why = ready ? "" : " [SKIPPED here: needs .venv (make setup), the stages and the tiny model]";
const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
const CELL = "tiny-llama/fp32/portable/host-x86_64@stable";

async function cli(args: string[], cache: string) {
  return execa(process.execPath, [CLI, ...args], {
    reject: false,
    cwd: REPO_ROOT,
    env: { PTE_FARM_PYTHON: realPython, PTE_FARM_CACHE: cache },
  });
}

async function record(out: string, name: string) {
  const file = path.join(out, "cells", ...CELL.split("/"), name);
  return parseJson(runRecord, await readFile(file, "utf8"), file);
}

describe.skipIf(!ready || process.arch !== "x64")("pte-farm run --base-out, real stages", () => {
  it(`measures base and head interleaved ABBA in one session, gates both, and appends both to history${why}`, async () => {
    const cache = await tempDir("pte-farm-cache-");
    const root = await tempDir();
    const baseOut = path.join(root, "base");
    const first = await cli(
      ["run", "--cells", CELL, "--out", baseOut, "--reps", "1", "--warmup", "0"],
      cache,
    );
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);

    const out = path.join(root, "pair");
    const hist = path.join(root, "history");
    const args = ["run", "--cells", CELL, "--out", out, "--reps", "2", "--warmup", "0"];
    const pair = await cli([...args, "--base-out", baseOut, "--history", `dir:${hist}`], cache);
    expect(pair.exitCode, pair.stdout + pair.stderr).toBe(0);
    expect(pair.stdout).toContain(`PASS  ${CELL} (base)`);
    expect(pair.stdout).toContain(`PASS  ${CELL} (head)`);

    const head = await record(out, "run.json");
    const base = await record(out, "run.base.json");
    expect([base.role, head.role]).toEqual(["base", "head"]);
    expect(base.session).toBe(head.session);
    for (const r of [base, head]) {
      expect(r.status).toBe("pass");
      expect(r.gate?.verdict).toBe("pass");
      expect(r.interleave?.order).toEqual(["base", "head", "head", "base"]);
      // Each role's decode timed by ExecuTorch's C++ runner, its output checked against the gated ids.
      expect(r.timer).toEqual({ name: "text-llm-runner" });
      expect(r.metrics.decode_tokens_per_sec?.samples).toHaveLength(2);
      expect(r.metrics.decode_tokens_per_sec?.sample_flags).toHaveLength(2);
      expect(r.telemetry.reps?.map((t) => `${t.rep}${t.phase}`)).toEqual([
        "0before",
        "0after",
        "1before",
        "1after",
      ]);
      expect(r.roofline).toBeNull(); // host-x86_64 has no memory_bandwidth_gbs in farm.yml
    }
    // The same build served both roles here, so each names the other's (identical) .pte.
    expect(head.interleave?.partner_pte_sha256).toBe(base.interleave?.partner_pte_sha256);

    // The two records of one interleaved session compare paired, rep by rep.
    const cellDir = path.join(out, "cells", ...CELL.split("/"));
    const compared = await cli(
      ["compare", "--base", path.join(cellDir, "run.base.json"), "--head", path.join(cellDir, "run.json")],
      cache,
    );
    expect([0, 1], compared.stderr).toContain(compared.exitCode);
    const comparison = JSON.parse(compared.stdout);
    expect(comparison.paired).toBe(true);
    expect(comparison.metrics.decode_tokens_per_sec.method).toBe("paired");

    const stored = await new LocalFolderStore(hist).list(CELL);
    expect(stored.map((s) => s.record.role).sort()).toEqual(["base", "head"]);

    const exported = await cli(
      ["export", "--format", "bencher-bmf", path.join(out, "cells", ...CELL.split("/"), "run.json")],
      cache,
    );
    expect(exported.exitCode, exported.stderr).toBe(0);
    expect(Object.keys(JSON.parse(exported.stdout))).toEqual([CELL]);
  }, 600_000);
});
