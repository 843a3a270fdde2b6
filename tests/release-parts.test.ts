/**
 * Splitting a file over the asset limit into parts and joining them back, with small limits so
 * every boundary case is a few bytes: exact multiples, a 1-byte last part, a file of exactly the
 * limit (split) and one byte under it (not split). Then what a reader must refuse.
 */
import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { sha256Text } from "../actions/src/core/hashing.ts";
import { VerificationError } from "../actions/src/release/errors.ts";
import {
  DEFAULT_PART_LIMIT,
  type PartOnDisk,
  planParts,
  reassemble,
  splitFile,
} from "../actions/src/release/parts.ts";
import { partName } from "../actions/src/schemas/release-manifest.ts";
import { tempDir } from "./helpers/env.ts";

const MIB = 1024 * 1024;

async function roundTrip(size: number, limit: number) {
  const dir = await tempDir();
  const src = path.join(dir, "model.pte");
  const data = randomBytes(size);
  await writeFile(src, data);
  const out = path.join(dir, "assets");
  const split = await splitFile(src, out, "slug.pte", limit);
  expect(split.sha256).toBe(sha256Text(data));
  expect(split.bytes).toBe(size);
  const pieces: PartOnDisk[] = (split.parts ?? [{ name: "slug.pte", sha256: split.sha256, bytes: size }]).map(
    (p) => ({ ...p, path: path.join(out, p.name) }),
  );
  for (const p of split.parts ?? []) {
    expect(p.bytes).toBeLessThan(limit);
    expect(sha256Text(await readFile(path.join(out, p.name)))).toBe(p.sha256);
  }
  const dest = path.join(dir, "joined.pte");
  await reassemble(pieces, dest, split);
  expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  return { split, out, dir, data };
}

describe("planParts", () => {
  it("does not split a file one byte under the limit, and splits one of exactly the limit", () => {
    expect(planParts(9, 10)).toBeNull();
    expect(planParts(10, 10)).toEqual({ partSize: 9, sizes: [9, 1] });
  });

  it("uses whole MiB parts below the default 2 GiB limit: a 5 GB file is 3 parts, the same size but the last", () => {
    const plan = planParts(5_000_000_000, DEFAULT_PART_LIMIT);
    expect(plan?.partSize).toBe(2047 * MIB);
    expect(plan?.sizes).toHaveLength(3);
    expect(plan?.sizes[0]).toBe(plan?.sizes[1]);
    expect(plan?.sizes.reduce((a, b) => a + b, 0)).toBe(5_000_000_000);
    expect(Math.max(...(plan?.sizes ?? []))).toBeLessThan(DEFAULT_PART_LIMIT);
  });

  it("names parts with the index zero-padded to the width of the count", () => {
    expect(partName("a.pte", 0, 3)).toBe("a.pte.part-1-of-3");
    expect(partName("a.pte", 0, 12)).toBe("a.pte.part-01-of-12");
    expect(partName("a.pte", 11, 12)).toBe("a.pte.part-12-of-12");
  });
});

describe("splitFile and reassemble, byte for byte", () => {
  it("an exact multiple of the part size splits into equal parts", async () => {
    const { split } = await roundTrip(27, 10);
    expect(split.parts?.map((p) => [p.name, p.bytes, p.offset])).toEqual([
      ["slug.pte.part-1-of-3", 9, 0],
      ["slug.pte.part-2-of-3", 9, 9],
      ["slug.pte.part-3-of-3", 9, 18],
    ]);
  });

  it("a 1-byte remainder becomes a 1-byte last part", async () => {
    const { split } = await roundTrip(28, 10);
    expect(split.parts?.map((p) => p.bytes)).toEqual([9, 9, 9, 1]);
  });

  it("a file of exactly the limit is split; one byte under is written whole", async () => {
    expect((await roundTrip(10, 10)).split.parts?.map((p) => p.bytes)).toEqual([9, 1]);
    const under = await roundTrip(9, 10);
    expect(under.split.parts).toBeNull();
    expect(await readdir(under.out)).toEqual(["slug.pte"]);
  });

  it("ten or more parts sort in order by name", async () => {
    const { split, out } = await roundTrip(100, 10);
    const names = split.parts?.map((p) => p.name) ?? [];
    expect(names).toHaveLength(12);
    expect((await readdir(out)).sort()).toEqual(names);
  });

  it("larger than the copy buffer: 20 MiB in 3 MiB parts", async () => {
    const { split } = await roundTrip(20 * MIB, 3 * MIB + 1);
    expect(split.parts?.map((p) => p.bytes)).toEqual([...Array(6).fill(3 * MIB), 2 * MIB]);
  });
});

describe("reassemble refuses what does not verify, leaving nothing behind", () => {
  async function parts() {
    const r = await roundTrip(28, 10);
    const pieces = (r.split.parts ?? []).map((p) => ({ ...p, path: path.join(r.out, p.name) }));
    return { ...r, pieces, dest: path.join(r.dir, "out.pte") };
  }

  it("a corrupted part (same size): names the part, expected and found sha256", async () => {
    const { pieces, dest, split, dir } = await parts();
    const victim = pieces[1] as PartOnDisk;
    const bytes = await readFile(victim.path);
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    await writeFile(victim.path, bytes);
    const err = await reassemble(pieces, dest, split).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as Error).message).toBe(
      `slug.pte.part-2-of-4: expected sha256 ${victim.sha256}, found ${sha256Text(bytes)}; do not use this file`,
    );
    expect((await readdir(dir)).filter((f) => f.startsWith("out.pte"))).toEqual([]);
  });

  it("a truncated part: names the expected and found size", async () => {
    const { pieces, dest, split } = await parts();
    const victim = pieces[2] as PartOnDisk;
    await writeFile(victim.path, (await readFile(victim.path)).subarray(0, 5));
    await expect(reassemble(pieces, dest, split)).rejects.toThrow(
      "slug.pte.part-3-of-4: expected 9 bytes, found 5; do not use this file",
    );
  });

  it("a missing part", async () => {
    const { pieces, dest, split, dir } = await parts();
    const withGap = pieces.map((p, i) => (i === 3 ? { ...p, path: path.join(dir, "nowhere") } : p));
    await expect(reassemble(withGap, dest, split)).rejects.toThrow("slug.pte.part-4-of-4: missing");
  });

  it("parts that each verify but are in the wrong order fail the whole file's hash", async () => {
    const { pieces, dest, split, dir } = await parts();
    const swapped = [pieces[1], pieces[0], pieces[2], pieces[3]] as PartOnDisk[];
    await expect(reassemble(swapped, dest, split)).rejects.toThrow(
      /^slug\.pte: expected sha256 [0-9a-f]{64}, found [0-9a-f]{64}; do not use this file$/,
    );
    expect((await readdir(dir)).filter((f) => f.startsWith("out.pte"))).toEqual([]);
  });
});
