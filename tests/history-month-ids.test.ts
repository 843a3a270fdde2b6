/**
 * A month file's records get their ids when first read (store.ts lazyStored), and a listing
 * hashes only records that could share an id: the ids and the de-duplication are still exactly
 * those of hashing every record (issue 18: the dashboard reads a million records).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { monthLine } from "../actions/src/history/layout.ts";
import { LocalFolderStore } from "../actions/src/history/local-folder.ts";
import { cellPrefix, recordPath, serialize } from "../actions/src/history/store.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { tempDir } from "./helpers/env.ts";
import { sampleRecord } from "./helpers/record.ts";

const rec = (i: number, session = `s${i}`): RunRecord =>
  sampleRecord({ session, role: "nightly", started_at: new Date(Date.UTC(2026, 9, 1 + i)).toISOString() });

describe("ids of month-file records (folder store)", () => {
  it("are recordPath's, and a record in a month file and in its own file is listed once", async () => {
    const root = await tempDir();
    const records = [0, 1, 2, 3].map((i) => rec(i));
    const [first] = records as [RunRecord];
    const cell = path.join(root, ...cellPrefix(first.cell.id).split("/"));
    await mkdir(cell, { recursive: true });
    // A newer producer's line: an unknown key the schema drops, so the same record (and id) as
    // record 1's own line; and record 0 appended again as its own file after the compaction.
    const newer = JSON.stringify({ ...JSON.parse(monthLine(records[1] as RunRecord)), extra: 1 });
    await writeFile(path.join(cell, "2026-10.jsonl"), `${[...records.map(monthLine), newer].join("\n")}\n`);
    await new LocalFolderStore(root).append([first]);

    const listed = await new LocalFolderStore(root).list();
    expect(listed.map((s) => s.path)).toEqual(records.map((r) => recordPath(r)));
    expect(listed.map((s) => serialize(s.record))).toEqual(records.map(serialize));
    // A copy of a listed record (spread, structured clone) keeps its id.
    expect({ ...listed[2] }.path).toBe(recordPath(records[2] as RunRecord));
    expect(structuredClone(listed[3])?.path).toBe(recordPath(records[3] as RunRecord));
  });

  it("keeps two different records whose ids share everything but the content hash", async () => {
    const root = await tempDir();
    const a = rec(0, "same");
    const b = { ...a, git_sha: "0".repeat(40) };
    const cell = path.join(root, ...cellPrefix(a.cell.id).split("/"));
    await mkdir(cell, { recursive: true });
    await writeFile(path.join(cell, "2026-10.jsonl"), `${monthLine(a)}\n${monthLine(b)}\n`);
    const listed = await new LocalFolderStore(root).list();
    expect(listed.map((s) => s.path).sort()).toEqual([recordPath(a), recordPath(b)].sort());
  });
});
