/**
 * Files too large for one release asset. GitHub refuses an asset of 2 GiB or more, and a large
 * model's `.pte` is ~5 GB, so such a file is published as parts `<name>.part-1-of-3`, ... that
 * a reader concatenates in order. The manifest lists every part's size, sha256 and offset, and the
 * whole file's, so reassembly checks each part as it goes and the result as a whole.
 *
 * Everything streams through one fixed buffer, reading the source once: hashing the whole and each
 * part while writing, so a 5 GB file costs the same memory as a 5 kB one.
 */
import { createHash, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { partName } from "../schemas/release-manifest.ts";
import { VerificationError } from "./errors.ts";

/** GitHub's limit on one release asset: an asset must be smaller than this. */
export const DEFAULT_PART_LIMIT = 2 * 1024 * 1024 * 1024;

const MIB = 1024 * 1024;
/** One read/write buffer: big enough for full disk throughput, small enough not to matter. */
const CHUNK = 8 * MIB;

export interface PartPlan {
  /** Bytes in every part but the last. */
  partSize: number;
  /** Part sizes in order; they sum to the file's size. */
  sizes: number[];
}

export interface FilePart {
  name: string;
  sha256: string;
  bytes: number;
  /** Where the part starts in the whole file. */
  offset: number;
}

export interface SplitFile {
  name: string;
  sha256: string;
  bytes: number;
  /** null when the file is below the limit and was written whole, as `name`. */
  parts: FilePart[] | null;
}

/** A part on disk and what the manifest says it must be. */
export interface PartOnDisk {
  path: string;
  /** Shown in errors: the asset name. */
  name: string;
  sha256: string;
  bytes: number;
}

function checkLimit(partLimit: number): void {
  if (!Number.isSafeInteger(partLimit) || partLimit < 2) {
    throw new Error(`bug: part limit ${partLimit} must be an integer of at least 2 bytes`);
  }
}

/**
 * How a file of `bytes` is cut, or null when it fits in one asset (`bytes < partLimit`). Parts
 * are whole MiB when the limit allows several (friendly to disks and to `split -b`); a small limit
 * (tests) uses the largest size below it.
 */
export function planParts(bytes: number, partLimit: number = DEFAULT_PART_LIMIT): PartPlan | null {
  checkLimit(partLimit);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`bug: file size ${bytes} is not a size`);
  if (bytes < partLimit) return null;
  const partSize = partLimit > 2 * MIB ? Math.floor((partLimit - 1) / MIB) * MIB : partLimit - 1;
  const count = Math.ceil(bytes / partSize);
  const sizes = Array.from({ length: count }, (_, i) => (i < count - 1 ? partSize : bytes - partSize * i));
  return { partSize, sizes };
}

async function writeAll(out: FileHandle, buf: Buffer, length: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await out.write(buf, done, length - done);
    done += bytesWritten;
  }
}

/**
 * Copies `length` bytes from `src` (at its current position) to `out`, feeding every hash. Returns
 * how many bytes there were (fewer than `length` when `src` ended early). `buf` is reused.
 */
async function pump(
  src: FileHandle,
  out: FileHandle,
  length: number,
  hashes: readonly Hash[],
  buf: Buffer,
): Promise<number> {
  let copied = 0;
  while (copied < length) {
    const want = Math.min(buf.length, length - copied);
    const { bytesRead } = await src.read(buf, 0, want, null);
    if (bytesRead === 0) break;
    for (const h of hashes) h.update(buf.subarray(0, bytesRead));
    await writeAll(out, buf, bytesRead);
    copied += bytesRead;
  }
  return copied;
}

/**
 * Writes `file` into `outDir` as `name` (below the limit) or as its parts, hashing while writing.
 * The source is read once; its size is taken when it is opened, and a file that changes size while
 * being read is an error, not a short release.
 */
export async function splitFile(
  file: string,
  outDir: string,
  name: string,
  partLimit: number = DEFAULT_PART_LIMIT,
): Promise<SplitFile> {
  await mkdir(outDir, { recursive: true });
  const src = await open(file, constants.O_RDONLY);
  const buf = Buffer.allocUnsafe(CHUNK);
  try {
    const bytes = (await src.stat()).size;
    const plan = planParts(bytes, partLimit);
    const whole = createHash("sha256");
    const sizes = plan?.sizes ?? [bytes];
    const parts: FilePart[] = [];
    let offset = 0;
    for (const [i, size] of sizes.entries()) {
      const partFile = plan === null ? name : partName(name, i, sizes.length);
      const part = createHash("sha256");
      const out = await open(path.join(outDir, partFile), "w");
      try {
        const copied = await pump(src, out, size, [whole, part], buf);
        if (copied !== size)
          throw new Error(`${file} shrank while being split (${offset + copied} of ${bytes} bytes)`);
      } finally {
        await out.close();
      }
      parts.push({ name: partFile, sha256: part.digest("hex"), bytes: size, offset });
      offset += size;
    }
    const { bytesRead } = await src.read(buf, 0, 1, null);
    if (bytesRead !== 0) throw new Error(`${file} grew while being split (past ${bytes} bytes)`);
    return { name, sha256: whole.digest("hex"), bytes, parts: plan === null ? null : parts };
  } finally {
    await src.close();
  }
}

/**
 * Concatenates `parts` into `dest`, checking each part's size and sha256 as it is copied and the
 * whole file's at the end. The bytes go to `dest.partial`, renamed to `dest` only when everything
 * verified; on any failure the partial file is deleted, so `dest` is either right or absent.
 * A single "part" copies one file with the same guarantees.
 */
export async function reassemble(
  parts: readonly PartOnDisk[],
  dest: string,
  expected: { name: string; sha256: string; bytes: number },
): Promise<void> {
  const partial = `${dest}.partial`;
  const buf = Buffer.allocUnsafe(CHUNK);
  const whole = createHash("sha256");
  let total = 0;
  try {
    const out = await open(partial, "w");
    try {
      for (const p of parts) {
        const info = await stat(p.path).catch(() => null);
        if (info === null) throw new VerificationError(p.name, "missing");
        if (!info.isFile() || info.size !== p.bytes) {
          throw new VerificationError(p.name, `expected ${p.bytes} bytes, found ${info.size}`);
        }
        const src = await open(p.path, constants.O_RDONLY);
        const part = createHash("sha256");
        try {
          // One byte more than expected, so a file that grew since the stat is caught.
          const copied = await pump(src, out, p.bytes + 1, [whole, part], buf);
          if (copied !== p.bytes)
            throw new VerificationError(p.name, `expected ${p.bytes} bytes, found ${copied}`);
        } finally {
          await src.close();
        }
        const got = part.digest("hex");
        if (got !== p.sha256)
          throw new VerificationError(p.name, `expected sha256 ${p.sha256}, found ${got}`);
        total += p.bytes;
      }
    } finally {
      await out.close();
    }
    if (total !== expected.bytes) {
      throw new VerificationError(expected.name, `expected ${expected.bytes} bytes, the parts hold ${total}`);
    }
    const got = whole.digest("hex");
    if (got !== expected.sha256) {
      throw new VerificationError(expected.name, `expected sha256 ${expected.sha256}, found ${got}`);
    }
    await rename(partial, dest);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
