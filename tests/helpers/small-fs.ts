/**
 * A full disk, for real: a tmpfs of a few hundred KiB mounted for a test (the machine's tests run
 * as root, as `make setup`'s apt-get does). `unmountSmallFs` in the file's afterAll.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";

const mounted: string[] = [];

/** A fresh tmpfs of `kib` KiB. */
export async function smallFs(kib: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "pte-farm-full-"));
  await execa("mount", ["-t", "tmpfs", "-o", `size=${kib}k,mode=0777`, "tmpfs", dir]);
  mounted.push(dir);
  return dir;
}

export async function unmountSmallFs(): Promise<void> {
  for (const dir of mounted.splice(0)) {
    await execa("umount", [dir], { reject: false });
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every file under `dir`, relative. */
export async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}
