import { describe, expect, it } from "vitest";
import { main } from "../actions/src/cli/main.ts";
import { DEFAULT_COMPARE_CONFIG, loadCompareConfig, settingsFor } from "../actions/src/compare/config.ts";
import { compareRecords } from "../actions/src/compare/verdicts.ts";
import { RecordingLogger } from "../actions/src/core/logger.ts";
import { seededRng } from "../actions/src/stats/rng.ts";
import { pairedSession } from "../scripts/synthetic-sessions.ts";
import { FIXTURE, record, writeRecords } from "./helpers/records.ts";

const config = await loadCompareConfig(DEFAULT_COMPARE_CONFIG);
// The fixture is a GitHub-hosted-like host; compare on the Pi's settings by naming the device pi5.
function onPi<T extends { cell: { device: string }; device: { board: string } }>(r: T): T {
  r.cell.device = "pi5";
  r.device.board = "raspberry-pi-5-8gb";
  return r;
}

/** A quiet paired session (1% noise per rep, no drift or outliers), for crafted cases. */
function quiet(seed: number, drop: number, n: number): { base: number[]; head: number[] } {
  const rng = seededRng(seed);
  const base = Array.from({ length: n }, () => 10 * (1 + 0.01 * rng.normal()));
  const head = Array.from({ length: n }, () => 10 * (1 - drop) * (1 + 0.01 * rng.normal()));
  return { base, head };
}

async function cli(...args: string[]) {
  const logger = new RecordingLogger();
  const code = await main(args, logger);
  return {
    code,
    out: logger.text(),
    errors: logger.lines.filter((l) => l.level === "error").map((l) => l.message),
  };
}

describe("compare verdicts", () => {
  it("calls an unchanged paired session unchanged", () => {
    const s = quiet(3, 0, 16);
    const c = compareRecords(onPi(record(s.base)), onPi(record(s.head)), config);
    expect(c.paired).toBe(true);
    expect(c.metrics.decode_tokens_per_sec?.verdict).toBe("unchanged");
    expect(c.verdict).toBe("unchanged");
  });

  it("calls a 10% decode drop in a paired session a regression, and the CLI exits 1", async () => {
    const s = pairedSession(seededRng(4), 0.1, 16);
    const c = compareRecords(onPi(record(s.base)), onPi(record(s.head)), config);
    const m = c.metrics.decode_tokens_per_sec;
    expect(m?.verdict).toBe("regression");
    expect(m?.ratio).toBeLessThan(0.95);
    expect(m?.ci?.[1]).toBeLessThan(1);
    const [b, h] = await writeRecords(onPi(record(s.base)), onPi(record(s.head)));
    const res = await cli("compare", "--base", b as string, "--head", h as string);
    expect(res.code).toBe(1);
    expect(JSON.parse(res.out).verdict).toBe("regression");
  });

  it("answers inconclusive with more_samples for a few noisy reps, and exits 0 saying so", async () => {
    const base = [10, 9.2, 10.6, 9.7];
    const head = [9.5, 10.1, 9.0, 9.9];
    const c = compareRecords(onPi(record(base)), onPi(record(head)), config);
    const m = c.metrics.decode_tokens_per_sec;
    expect(m?.verdict).toBe("inconclusive");
    expect(m?.more_samples).toBeGreaterThan(0);
    const [b, h] = await writeRecords(onPi(record(base)), onPi(record(head)));
    const res = await cli("compare", "--base", b as string, "--head", h as string, "--format", "markdown");
    expect(res.code).toBe(0);
    expect(res.out).toContain("🟡 inconclusive");
  });

  // @fault thermal | five reps flagged throttled, 30% slower | compare excludes them (counted as excluded) and the verdict stays unchanged
  it("excludes throttled reps instead of averaging them in", () => {
    const s = quiet(5, 0, 16);
    const head = [...s.head];
    const flags = head.map(() => [] as string[]);
    for (const i of [1, 4, 7, 10, 13]) {
      head[i] = (head[i] as number) * 0.7;
      flags[i] = ["throttled"];
    }
    const flagged = compareRecords(onPi(record(s.base)), onPi(record(head, { flags })), config);
    const m = flagged.metrics.decode_tokens_per_sec;
    expect(m?.excluded).toEqual({ base: 0, head: 5 });
    expect(m?.reps).toEqual({ base: 11, head: 11 });
    expect(m?.verdict).toBe("unchanged");
    // The same samples without the flags: the slowed reps drag the answer down.
    const unflagged = compareRecords(onPi(record(s.base)), onPi(record(head)), config);
    expect(unflagged.metrics.decode_tokens_per_sec?.verdict).not.toBe("unchanged");
    expect(unflagged.metrics.decode_tokens_per_sec?.ratio).toBeLessThan(0.97);
  });

  it("does not call a 2% offset between two separate sessions a regression", () => {
    const rng = seededRng(6);
    const base = Array.from({ length: 16 }, () => 10 * (1 + 0.01 * rng.normal()));
    const head = Array.from({ length: 16 }, () => 9.8 * (1 + 0.01 * rng.normal()));
    const c = compareRecords(
      onPi(record(base, { session: "s1" })),
      onPi(record(head, { session: "s2" })),
      config,
    );
    expect(c.paired).toBe(false);
    expect(c.metrics.decode_tokens_per_sec?.verdict).not.toBe("regression");
  });

  // @fault thermal | two separate sessions, the head's heating 0.6% a rep faster, same cold start | the cold-start estimate calls it no regression; the same drift with a real 10% drop is one
  it("compares separate sessions at their cold start, so a board that heated faster that night is not a regression", () => {
    const rng = seededRng(8);
    const session = (level: number, drift: number) =>
      Array.from({ length: 20 }, (_, t) => level * Math.exp(-drift * t) * (1 + 0.005 * rng.normal()));
    const base = session(10, 0);
    const warmer = session(10, 0.006);
    const c = compareRecords(
      onPi(record(base, { session: "s1" })),
      onPi(record(warmer, { session: "s2" })),
      config,
    );
    const m = c.metrics.decode_tokens_per_sec;
    // Their means differ by ~6%: far past the 1.5% between-session term.
    expect(m?.verdict).not.toBe("regression");
    expect(m?.method).toBe("unpaired");
    const slower = session(9, 0.006);
    const d = compareRecords(
      onPi(record(base, { session: "s1" })),
      onPi(record(slower, { session: "s3" })),
      config,
    );
    expect(d.metrics.decode_tokens_per_sec?.verdict).toBe("regression");
    expect(d.metrics.decode_tokens_per_sec?.ratio).toBeGreaterThan(0.87);
    expect(d.metrics.decode_tokens_per_sec?.ratio).toBeLessThan(0.93);
  });

  // @fault interference | one paired rep in six slowed 30% by something else, on either side alike | compare drops those pairs (counted as slowed) and finds a real 5% drop; slowed reps on the head alone are kept: the change's own intermittent slowness
  it("drops pairs slowed by something else on both sides alike, and keeps them when only the head is slowed", () => {
    const s = quiet(9, 0.05, 24);
    const base = [...s.base];
    const head = [...s.head];
    for (const i of [2, 9, 16]) base[i] = (base[i] as number) * 0.7;
    for (const i of [5, 13, 20]) head[i] = (head[i] as number) * 0.7;
    const c = compareRecords(onPi(record(base)), onPi(record(head)), config);
    const m = c.metrics.decode_tokens_per_sec;
    expect(m?.slowed).toEqual({ base: 3, head: 3, dropped: true });
    expect(m?.reps).toEqual({ base: 18, head: 18 });
    expect(m?.verdict).toBe("regression");
    expect(m?.ratio).toBeGreaterThan(0.93);
    // The same six slowed reps all on the head: not interference, the change.
    const q = quiet(9, 0, 24);
    const intermittent = [...q.head];
    for (const i of [2, 5, 9, 13, 16, 20]) intermittent[i] = (intermittent[i] as number) * 0.7;
    const k = compareRecords(onPi(record(q.base)), onPi(record(intermittent)), config).metrics
      .decode_tokens_per_sec;
    expect(k?.slowed).toEqual({ base: 0, head: 6, dropped: false });
    expect(k?.reps).toEqual({ base: 24, head: 24 });
    expect(k?.verdict).not.toBe("unchanged");
  });

  it("resolves the minimum effect per metric and device, later layers winning", () => {
    expect(settingsFor(config, "decode_tokens_per_sec", "pi5").min_effect).toBeCloseTo(0.03);
    expect(settingsFor(config, "decode_tokens_per_sec", "host-x86_64").min_effect).toBeCloseTo(0.1);
    expect(settingsFor(config, "model_load_ms", "pi5").min_effect).toBeCloseTo(0.2);
    expect(settingsFor(config, "something_new", "pi5").between_session).toBeCloseTo(0.015);
  });
});

describe("compare refuses bad input with exit 2 and says what is wrong", () => {
  const good = () => onPi(record([10, 10.1, 9.9, 10]));

  it("a record that fails its schema: names the file and the JSON path", async () => {
    const broken = { ...good(), status: "exploded" };
    const [b, h] = await writeRecords(good(), broken);
    const res = await cli("compare", "--base", b as string, "--head", h as string);
    expect(res.code).toBe(2);
    expect(res.errors.join("\n")).toMatch(
      /r1\.json: status: expected one of "pass" \| .*not a valid pte-farm\/run@1 record/,
    );
  });

  it.each([
    [
      "NaN (null in JSON)",
      null,
      /metrics\.decode_tokens_per_sec\.samples\[2\]: metric decode_tokens_per_sec rep 2 is NaN/,
    ],
    ["zero", 0, /samples\[2\]: metric decode_tokens_per_sec rep 2 is 0; samples must be positive/],
    ["negative", -3, /samples\[2\]: metric decode_tokens_per_sec rep 2 is -3; samples must be positive/],
  ])("a %s sample: names the metric and the index", async (_, value, message) => {
    const bad = good() as unknown as { metrics: { decode_tokens_per_sec: { samples: unknown[] } } };
    bad.metrics.decode_tokens_per_sec.samples[2] = value;
    const [b, h] = await writeRecords(good(), bad);
    const res = await cli("compare", "--base", b as string, "--head", h as string);
    expect(res.code).toBe(2);
    expect(res.errors.join("\n")).toMatch(message);
  });

  it("sample_flags not parallel to samples", async () => {
    const bad = onPi(record([10, 10, 10, 10]));
    const decode = bad.metrics.decode_tokens_per_sec;
    if (decode === undefined) throw new Error("the helper always sets decode");
    decode.sample_flags = [[]];
    const [b, h] = await writeRecords(good(), bad);
    const res = await cli("compare", "--base", b as string, "--head", h as string);
    expect(res.code).toBe(2);
    expect(res.errors.join("\n")).toContain(
      "metrics.decode_tokens_per_sec.sample_flags: has 1 entries but samples has 4; they must be parallel",
    );
  });

  it("base and head from different devices: names both", async () => {
    const [b, h] = await writeRecords(good(), record([10, 10.1, 9.9, 10]));
    const res = await cli("compare", "--base", b as string, "--head", h as string);
    expect(res.code).toBe(2);
    expect(res.errors.join("\n")).toMatch(
      /different devices: base pi5 \(raspberry-pi-5-8gb\), head host \(host-cpu\)/,
    );
  });

  it("base and head from different toolchains: names both, and --across-toolchains allows it", async () => {
    const other = good();
    other.cell.toolchain = "nightly";
    if (other.toolchain.device !== null) other.toolchain.device.torch = "2.14.0.dev20261120+cpu";
    const [b, h] = await writeRecords(good(), other);
    const res = await cli("compare", "--base", b as string, "--head", h as string);
    expect(res.code).toBe(2);
    expect(res.errors.join("\n")).toMatch(
      /different toolchains: base stable \(torch 2\.13\.0\+cpu, .*\), head nightly \(torch 2\.14\.0\.dev20261120\+cpu, .*pass --across-toolchains/,
    );
    const across = await cli("compare", "--base", b as string, "--head", h as string, "--across-toolchains");
    expect(across.code).toBe(0);
  });

  it("a missing file and a missing flag", async () => {
    const missing = await cli("compare", "--base", "/nonexistent.json", "--head", FIXTURE);
    expect(missing.code).toBe(2);
    expect(missing.errors.join("\n")).toContain("cannot read run record /nonexistent.json (ENOENT)");
    const noHead = await cli("compare", "--base", FIXTURE);
    expect(noHead.code).toBe(2);
  });
});
