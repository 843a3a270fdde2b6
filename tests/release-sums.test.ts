/**
 * SHA256SUMS in GNU coreutils' format: written sorted, read back, and checked by the real
 * `sha256sum -c` from coreutils in a folder of files, as a person would after downloading.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { sha256Text } from "../actions/src/core/hashing.ts";
import { formatSums, parseSums } from "../actions/src/release/sums.ts";
import { tempDir } from "./helpers/env.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);

describe("SHA256SUMS", () => {
  it("writes one '<hex>  <name>' line per file, sorted by name, and reads it back", () => {
    const text = formatSums([
      { name: "z.pte", sha256: A },
      { name: "manifest.json", sha256: B },
      { name: "Z.pte.part-1-of-2", sha256: A },
    ]);
    expect(text).toBe(`${A}  Z.pte.part-1-of-2\n${B}  manifest.json\n${A}  z.pte\n`);
    expect([...parseSums(text)]).toEqual([
      ["Z.pte.part-1-of-2", A],
      ["manifest.json", B],
      ["z.pte", A],
    ]);
  });

  it("accepts coreutils' binary-mode marker '*name'", () => {
    expect(parseSums(`${A} *model.pte\n`).get("model.pte")).toBe(A);
  });

  it.each([
    ["an uppercase hash", `${A.toUpperCase()}  x\n`],
    ["a short hash", `${A.slice(1)}  x\n`],
    ["one space only", `${A} x\n`],
    ["no name", `${A}  \n`],
    ["coreutils' escaped-name form", `\\${A}  a\\\\b\n`],
    ["a blank line", `\n${A}  x\n`],
  ])("refuses %s, naming the line", (_what, text) => {
    expect(() => parseSums(`${B}  first\n${text}`, "SHA256SUMS")).toThrow(
      /^SHA256SUMS:2: expected "<64 lowercase hex sha256> {2}<file name>", got /,
    );
  });

  it("refuses CRLF line endings and a name listed twice, naming the line", () => {
    expect(() => parseSums(`${A}  x\r\n`)).toThrow("SHA256SUMS:1: a CRLF line ending");
    expect(() => parseSums(`${A}  x\n${B}  y\n${B}  x\n`)).toThrow("SHA256SUMS:3: x is listed a second time");
  });

  it("will not write a name that coreutils would have to escape", () => {
    expect(() => formatSums([{ name: "a\nb", sha256: A }])).toThrow("cannot be listed");
    expect(() => formatSums([{ name: "a\\b", sha256: A }])).toThrow("cannot be listed");
  });

  it("is checked by the real coreutils `sha256sum -c`, which also catches a changed file", async () => {
    const dir = await tempDir();
    const files = {
      "manifest.json": "{}\n",
      "m--r--b--d--t.pte": "pte bytes",
      "m--r--b--d--t.pte.part-1-of-2": "x",
    };
    for (const [name, body] of Object.entries(files)) await writeFile(path.join(dir, name), body);
    const sums = formatSums(
      Object.entries(files).map(([name, body]) => ({ name, sha256: sha256Text(body) })),
    );
    await writeFile(path.join(dir, "SHA256SUMS"), sums);
    const ok = await execa("sha256sum", ["-c", "--strict", "SHA256SUMS"], { cwd: dir, reject: false });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout.split("\n").sort()).toEqual([
      "m--r--b--d--t.pte.part-1-of-2: OK",
      "m--r--b--d--t.pte: OK",
      "manifest.json: OK",
    ]);
    await writeFile(path.join(dir, "m--r--b--d--t.pte"), "other bytes");
    const bad = await execa("sha256sum", ["-c", "SHA256SUMS"], { cwd: dir, reject: false });
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain("m--r--b--d--t.pte: FAILED");
    // And what coreutils writes, we read.
    const own = await execa("sha256sum", Object.keys(files).sort(), { cwd: dir });
    expect(parseSums(`${own.stdout}\n`).size).toBe(3);
  });
});
