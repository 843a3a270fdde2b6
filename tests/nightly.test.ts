import { describe, expect, it } from "vitest";
import { type CompareConfig, loadCompareConfig } from "../actions/src/compare/config.ts";
import { GATE_METRIC, type NightlyInput, nightly, STAGE_METRIC } from "../actions/src/history/nightly.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { record } from "./helpers/records.ts";

const DECODE = "decode_tokens_per_sec";
let config: CompareConfig;
const cfg = async () => {
  config ??= await loadCompareConfig();
  return config;
};

function day(i: number): string {
  return new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString();
}

/** One nightly record per night, 8 reps at level 10 × factor(i), 1% night and 2% rep noise. */
function history(seed: number, n: number, factor: (i: number) => number = () => 1): RunRecord[] {
  const rng = seededRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const level = 10 * factor(i) * (1 + 0.01 * rng.normal());
    const reps = Array.from({ length: 8 }, () => level * (1 + 0.02 * rng.normal()));
    return nightlyRecord(reps, i);
  });
}

function nightlyRecord(reps: number[], i: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    ...record(reps, { session: `night-${i}`, startedAt: day(i), gitSha: `sha${i}` }),
    role: "nightly",
    ...over,
  };
}

/** A re-run of the cell after night `i`, at `level`. */
function rerun(level: number, i: number, over: Partial<RunRecord> = {}): RunRecord {
  return nightlyRecord([level, level * 1.01, level * 0.99, level], i, { session: `confirm-${i}`, ...over });
}

async function run(records: RunRecord[], over: Partial<NightlyInput> = {}) {
  return nightly({ history: records, tonight: records.slice(-1), config: await cfg(), ...over });
}

const CELL = "tiny-llama/fp32/portable/host@stable";

describe("nightly: new performance regressions need a confirming re-run", () => {
  const slowed = history(1, 40, (i) => (i >= 33 ? 0.88 : 1));

  it("makes a fresh step for the worse a candidate, and opens nothing without a re-run", async () => {
    const d = await run(slowed);
    expect(d.candidates).toEqual([
      expect.objectContaining({
        cell: CELL,
        metric: DECODE,
        kind: "performance",
        reason: expect.stringContaining("-12"),
      }),
    ]);
    expect(d.candidates[0]?.changePoint).toMatchObject({ index: 33, git_sha: "sha33" });
    expect(d.actions).toEqual([]);
  });

  it("reports regressed when the re-run is at the new level, with its change point, re-run and trend", async () => {
    const d = await run(slowed, { confirmations: [rerun(8.8, 40)] });
    expect(d.actions).toHaveLength(1);
    const a = d.actions[0];
    expect(a).toMatchObject({ cell: CELL, metric: DECODE, kind: "performance", state: "regressed" });
    expect(a?.changePoint?.started_at).toBe(day(33));
    expect(a?.confirmation?.night.session).toBe("confirm-40");
    expect(a?.latest.session).toBe("night-39");
    expect(a?.trend).toHaveLength(30);
    expect(a?.trend.at(-1)?.started_at).toBe(day(39));
  });

  it("opens nothing when the re-run is back at the old level, and says why", async () => {
    const d = await run(slowed, { confirmations: [rerun(10, 40)] });
    expect(d.actions).toEqual([]);
    expect(d.notes.join("\n")).toContain("not confirmed: the re-run (10.00) is back near the old level");
  });

  it("opens nothing when the re-run itself broke", async () => {
    const d = await run(slowed, { confirmations: [rerun(8.8, 40, { status: "infra-error" })] });
    expect(d.actions).toEqual([]);
    expect(d.notes.join("\n")).toContain("re-run ended infra-error");
  });

  it("does not make an old step a candidate (an unconfirmed or hand-closed one stays quiet)", async () => {
    const old = history(2, 40, (i) => (i >= 20 ? 0.88 : 1));
    const d = await run(old, { confirmations: [rerun(8.8, 40)] });
    expect(d.candidates).toEqual([]);
    expect(d.actions).toEqual([]);
  });

  it("ignores a step for the better, and one below the metric's minimum effect", async () => {
    expect((await run(history(3, 40, (i) => (i >= 33 ? 1.15 : 1)))).candidates).toEqual([]);
    expect((await run(history(4, 40, (i) => (i >= 33 ? 0.99 : 1)))).candidates).toEqual([]);
  });

  it("knows that for a lower-is-better metric a rise is the regression", async () => {
    const records = history(5, 40).map((r, i) => ({
      ...r,
      metrics: {
        first_token_ms: {
          unit: "ms",
          better: "lower" as const,
          samples: [2, 2.02, 1.98].map((v) => v * (i >= 33 ? 1.3 : 1)),
        },
      },
    }));
    const d = await run(records);
    expect(d.candidates.map((c) => c.metric)).toEqual(["first_token_ms"]);
    const faster = records.map((r, i) => ({
      ...r,
      metrics: {
        first_token_ms: {
          ...r.metrics.first_token_ms,
          samples: [2, 2.02, 1.98].map((v) => v * (i >= 33 ? 0.7 : 1)),
        },
      },
    })) as RunRecord[];
    expect((await run(faster)).candidates).toEqual([]);
  });
});

describe("nightly: open performance issues are kept up to date, then recover", () => {
  const open = [{ cell: CELL, metric: DECODE }];

  it("updates an open issue while the regression lasts, without another re-run", async () => {
    const d = await run(
      history(6, 45, (i) => (i >= 20 ? 0.88 : 1)),
      { open },
    );
    expect(d.actions).toEqual([
      expect.objectContaining({
        metric: DECODE,
        state: "regressed",
        confirmation: null,
        reason: expect.stringContaining("still"),
      }),
    ]);
    expect(d.actions[0]?.changePoint?.index).toBe(20);
  });

  it("recovers when the series has changed back and the last nights are at the old level", async () => {
    const d = await run(
      history(7, 45, (i) => (i >= 20 && i < 36 ? 0.88 : 1)),
      { open },
    );
    expect(d.actions).toEqual([
      expect.objectContaining({
        metric: DECODE,
        state: "recovered",
        reason: expect.stringContaining("last 3 nights are back"),
      }),
    ]);
    expect(d.actions[0]?.changePoint?.index).toBe(20);
  });

  it("recovers after a short regression, a dip that a test for one change over the whole series does not see", async () => {
    const d = await run(
      history(11, 32, (i) => (i >= 20 && i < 26 ? 0.88 : 1)),
      { open },
    );
    expect(d.actions).toEqual([
      expect.objectContaining({
        metric: DECODE,
        state: "recovered",
        reason: expect.stringContaining("back"),
      }),
    ]);
    expect(d.actions[0]?.changePoint?.index).toBe(20);
  });

  it("recovers after a dip that deepened before it ended, placing the regression within a night of where it began", async () => {
    const d = await run(
      history(12, 24, (i) => (i >= 18 ? 1 : i >= 16 ? 0.2 : i >= 12 ? 0.85 : 1)),
      { open },
    );
    expect(d.actions.map((a) => a.state)).toEqual(["recovered"]);
    expect(Math.abs((d.actions[0]?.changePoint?.index ?? 0) - 12)).toBeLessThanOrEqual(1);
  });

  it("recovers when nights repeat one value (a history copied from one record): the cut is not placed late", async () => {
    // 12 nights at the old level, 4 a little below, 2 far below, 5 back, then a faster night.
    const levels = [...Array(12).fill(10), ...Array(4).fill(8.5), 1.6, 1.5, ...Array(5).fill(10), 33];
    const records = levels.map((v, i) => nightlyRecord([v, v * 1.01, v * 0.99], i));
    const d = await run(records, { open });
    expect(d.actions.map((a) => a.state)).toEqual(["recovered"]);
  });

  it("stays regressed after a partial recovery", async () => {
    const d = await run(
      history(8, 45, (i) => (i >= 36 ? 0.93 : i >= 20 ? 0.85 : 1)),
      { open },
    );
    expect(d.actions.map((a) => a.state)).toEqual(["regressed"]);
  });

  it("stays regressed while the way back is too recent for the detector to see", async () => {
    const d = await run(
      history(9, 45, (i) => (i >= 20 && i < 42 ? 0.88 : 1)),
      { open },
    );
    expect(d.actions.map((a) => a.state)).toEqual(["regressed"]);
  });

  it("leaves an open issue alone when the series holds no change for the worse", async () => {
    const d = await run(history(10, 45), { open });
    expect(d.actions).toEqual([]);
    expect(d.notes.join("\n")).toContain("no change for the worse is in the series; left as is");
  });
});

describe("nightly: failed and broken runs", () => {
  it("never turns infra-error runs into a performance regression", async () => {
    // Eight nights of slow infra-error runs, then a normal pass: the slow values are not in the series.
    const records = history(11, 40).map((r, i) =>
      i >= 31 && i < 39
        ? { ...r, status: "infra-error" as const, metrics: history(12, 1, () => 0.5)[0]?.metrics ?? {} }
        : r,
    );
    const d = await run(records);
    expect(d.candidates).toEqual([]);
    expect(d.actions).toEqual([]);
  });

  // @fault infra-not-regression | tonight's run ends infra-error, then timeout, with a gate and a speed issue open | no issue opened, updated or closed; a note says why
  it("leaves every issue as it was when tonight's run was infra-error or a timeout", async () => {
    const records = history(13, 40, (i) => (i >= 20 && i < 30 ? 0.88 : 1));
    for (const status of ["infra-error", "timeout"] as const) {
      records[39] = { ...(records[39] as RunRecord), status };
      const d = await run(records, {
        open: [
          { cell: CELL, metric: DECODE },
          { cell: CELL, metric: GATE_METRIC },
        ],
      });
      expect(d.actions).toEqual([]);
      expect(d.notes).toEqual([`${CELL}: tonight's run ended ${status}; its issues are left as they were`]);
    }
  });

  const gateFail = (i: number): Partial<RunRecord> => ({
    status: "fail",
    gate: {
      verdict: "fail",
      policy: { reference: "fp32", fp32: "gate" },
      first_divergence: null,
      fp32_agreement: { matching_prefix: 3, total: 48 },
    },
    session: `night-${i}`,
  });

  it("opens a gate issue only when the re-run fails the gate too, not as a performance regression", async () => {
    const records = history(14, 40);
    records[39] = { ...(records[39] as RunRecord), ...gateFail(39) };
    const first = await run(records);
    expect(first.candidates).toEqual([expect.objectContaining({ metric: GATE_METRIC, kind: "gate" })]);
    const confirmed = await run(records, { confirmations: [rerun(10, 40, gateFail(40))] });
    expect(confirmed.actions).toEqual([
      expect.objectContaining({ metric: GATE_METRIC, kind: "gate", state: "regressed", changePoint: null }),
    ]);
    const fluke = await run(records, { confirmations: [rerun(10, 40)] });
    expect(fluke.actions).toEqual([]);
    expect(fluke.notes.join("\n")).toContain("did not reproduce");
  });

  it("opens a build-stage failure at once (deterministic, no device to re-run on)", async () => {
    const records = history(15, 40);
    records[39] = {
      ...(records[39] as RunRecord),
      status: "fail",
      gate: null,
      failure: {
        stage: "lower",
        outcome: "stage-failure",
        message: "XNNPACK rejected",
        known_issue: null,
        triage: "",
        reproduce: "",
      },
    };
    const d = await run(records);
    expect(d.candidates).toEqual([]);
    expect(d.actions).toEqual([
      expect.objectContaining({
        metric: STAGE_METRIC,
        kind: "stage",
        state: "regressed",
        reason: expect.stringContaining("stage lower failed"),
      }),
    ]);
  });

  it("needs a failing re-run for an execute failure", async () => {
    const records = history(16, 40);
    const failed = { ...(records[39] as RunRecord), status: "fail" as const, gate: null };
    records[39] = {
      ...failed,
      failure: {
        stage: "execute",
        outcome: "stage-failure",
        message: "",
        known_issue: null,
        triage: "",
        reproduce: "",
      },
    };
    expect((await run(records)).candidates.map((c) => c.metric)).toEqual([STAGE_METRIC]);
    const d = await run(records, { confirmations: [rerun(10, 40, { status: "fail", gate: null })] });
    expect(d.actions.map((a) => [a.metric, a.state])).toEqual([[STAGE_METRIC, "regressed"]]);
  });

  it("keeps an open gate issue updated while it fails, and recovers it on the first passing night", async () => {
    const records = history(17, 40);
    const open = [{ cell: CELL, metric: GATE_METRIC }];
    const failing = [...records.slice(0, 39), { ...(records[39] as RunRecord), ...gateFail(39) }];
    expect((await run(failing, { open })).actions.map((a) => a.state)).toEqual(["regressed"]);
    const passing = await run(records, { open });
    expect(passing.actions).toEqual([
      expect.objectContaining({ metric: GATE_METRIC, state: "recovered", reason: "passed tonight" }),
    ]);
  });

  it("leaves a cell that did not run tonight alone, open issues included", async () => {
    const records = history(18, 40, (i) => (i >= 20 ? 0.88 : 1));
    const other = {
      ...(records[39] as RunRecord),
      cell: { ...(records[39] as RunRecord).cell, id: "m/r/b/d@t" },
    };
    const d = await nightly({
      history: records,
      tonight: [other],
      open: [{ cell: CELL, metric: DECODE }],
      config: await cfg(),
    });
    expect(d.actions.filter((a) => a.cell === CELL)).toEqual([]);
  });
});
