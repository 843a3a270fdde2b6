/**
 * Splits and reassembles a real file over GitHub's 2 GiB asset limit (default 2.5 GiB) with the
 * default limit, and prints the throughput and the process's peak RSS, to show that the release
 * path streams (memory stays flat whatever the file's size). Not a test: it needs about three
 * times the file's size in free disk (the file, its parts, the reassembled copy) and a minute.
 *
 *   node scripts/bench-release-parts.ts [--gib 2.5] [--dir /tmp]
 *
 * The file is random data (a fresh random block every 8 MiB, so no two parts are alike and no
 * filesystem can store it sparse or deduplicated). Everything it writes is removed at the end.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { sha256File } from "../actions/src/core/hashing.ts";
import { DEFAULT_PART_LIMIT, reassemble, splitFile } from "../actions/src/release/parts.ts";

const { values } = parseArgs({
  options: { gib: { type: "string", default: "2.5" }, dir: { type: "string", default: tmpdir() } },
});
const GIB = 1024 ** 3;
const BLOCK = 8 * 1024 * 1024;
const size = Math.round(Number(values.gib) * GIB);
if (!(size > 0)) throw new Error(`--gib ${values.gib} is not a size`);

const rssMiB = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);
const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);

const fs = await statfs(values.dir);
const free = fs.bavail * fs.bsize;
if (free < 3 * size + GIB) {
  throw new Error(
    `needs ${((3 * size + GIB) / GIB).toFixed(1)} GiB free in ${values.dir}; it has ${(free / GIB).toFixed(1)} GiB`,
  );
}

const dir = await mkdtemp(path.join(values.dir, "pte-farm-bench-parts-"));
try {
  const src = path.join(dir, "model.pte");
  let t = performance.now();
  const out = await open(src, "w");
  for (let done = 0; done < size; done += BLOCK) {
    const block = randomBytes(Math.min(BLOCK, size - done));
    await out.write(block);
  }
  await out.close();
  console.log(
    `wrote ${(size / GIB).toFixed(2)} GiB of random data in ${((performance.now() - t) / 1000).toFixed(1)} s; peak RSS so far ${rssMiB()} MiB`,
  );

  t = performance.now();
  const split = await splitFile(src, path.join(dir, "assets"), "model.pte", DEFAULT_PART_LIMIT);
  const splitMs = performance.now() - t;
  const parts = split.parts ?? [];
  console.log(
    `${parts.length === 0 ? "copied whole (below the limit)" : `split into ${parts.length} parts (${parts.map((p) => p.bytes).join(" + ")} bytes, limit ${DEFAULT_PART_LIMIT})`}: ${(splitMs / 1000).toFixed(1)} s, ${mbps(size, splitMs)} MB/s (read + sha256 ×2 + write); peak RSS ${rssMiB()} MiB`,
  );

  t = performance.now();
  const dest = path.join(dir, "joined.pte");
  await reassemble(
    (split.parts ?? [{ name: split.name, sha256: split.sha256, bytes: size }]).map((p) => ({
      ...p,
      path: path.join(dir, "assets", p.name),
    })),
    dest,
    split,
  );
  const joinMs = performance.now() - t;
  console.log(
    `reassembled and verified: ${(joinMs / 1000).toFixed(1)} s, ${mbps(size, joinMs)} MB/s; peak RSS ${rssMiB()} MiB`,
  );

  t = performance.now();
  const [a, b] = await Promise.all([sha256File(src), sha256File(dest)]);
  if (a !== split.sha256 || b !== split.sha256)
    throw new Error(`sha256 mismatch: source ${a}, split ${split.sha256}, joined ${b}`);
  console.log(
    `independent check: source and reassembled file both sha256 ${a} (${((performance.now() - t) / 1000).toFixed(1)} s)`,
  );
  console.log(`peak RSS of the whole run: ${rssMiB()} MiB for a ${(size / GIB).toFixed(2)} GiB file`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
