/**
 * The README's dashboard screenshots (docs/dashboard/*.png, make readme-dashboard) are of the site
 * the code builds now. Pixels differ between machines, so staleness is judged by a hash of the
 * built example site (scripts/gen-dashboard-screenshots.ts says why); this test fails when the
 * generator, the digest, the states or the pages changed and the screenshots were not retaken.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { exampleSite, SHOTS_DIR, siteHash } from "../scripts/gen-dashboard-screenshots.ts";
import { tempDir } from "./helpers/env.ts";

const SCRIPT = path.join(REPO_ROOT, "scripts", "gen-dashboard-screenshots.ts");

describe("the README's dashboard screenshots", () => {
  it("are of the site the code builds now (make readme-dashboard retakes them)", async () => {
    const r = await promisify(execFile)(process.execPath, [SCRIPT, "--check"]).catch((e) => e);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("up to date");
  });

  it("are judged stale when any data file of the site changes, and not by the build time", async () => {
    const site = await exampleSite(await tempDir());
    const before = await siteHash(site);
    const overview = path.join(site, "data", "overview.js");
    const text = await readFile(overview, "utf8");
    await writeFile(
      overview,
      text.replace(/"generated_at":"[^"]*"/, '"generated_at":"2000-01-01T00:00:00.000Z"'),
    );
    expect(await siteHash(site)).toBe(before);
    await writeFile(
      overview,
      text.replace('"label":"−9.9% decode, confirmed"', '"label":"−9.8% decode, confirmed"'),
    );
    expect(await siteHash(site)).not.toBe(before);
  });

  it("are PNG files the README links to", async () => {
    const readme = await readFile(path.join(REPO_ROOT, "README.md"), "utf8");
    for (const name of ["overview.png", "cell.png"]) {
      expect(readme).toContain(`docs/dashboard/${name}`);
      const png = await readFile(path.join(SHOTS_DIR, name));
      expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
      expect(png.readUInt32BE(16)).toBe(1280);
    }
  });
});
