/**
 * Pinned dependencies (OpenSSF Scorecard's Pinned-Dependencies): the Node packages and the Python
 * toolchain are named by exact versions, installed from the lockfile with `npm ci`, so a build
 * next month gets the code a build today got. Each check runs on the repository's files and on a
 * copy broken the way a hurried edit would break it, so a check that stopped matching fails here.
 * (Actions pinned by SHA are the workflow policy's pinned-uses rule, tests/workflows-policy.test.ts.)
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";

type Deps = Record<string, string>;
interface PackageJson {
  dependencies?: Deps;
  devDependencies?: Deps;
}

const read = (rel: string) => readFile(path.join(REPO_ROOT, rel), "utf8");
const EXACT = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

/** package.json entries that name a range, a tag or a URL instead of one version. */
function unpinnedPackages(pkg: PackageJson): string[] {
  return Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })
    .filter(([, v]) => !EXACT.test(v))
    .map(([name, v]) => `${name}@${v}`);
}

/** Requirement lines that are not `name==version` (comments and blank lines aside). */
function loosePins(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => l !== "" && !/^[A-Za-z0-9._-]+(\[[^\]]*\])?==[^\s;=<>~!*]+(\s*;.*)?$/.test(l));
}

/**
 * npm commands that resolve versions instead of installing the lockfile's: anything but `npm ci`,
 * except one exact `name@x.y.z` installed with --no-save (the Makefile's Node binary, whose
 * `$(NODE_PIN)` is expanded from the Makefile's own `NAME := value` lines first).
 */
function resolvingInstalls(text: string): string[] {
  const vars = new Map([...text.matchAll(/^(\w+) :?= *(\S+) *$/gm)].map((m) => [m[1], m[2]]));
  return text
    .split("\n")
    .filter((l) => /\bnpm\s+(install|i|add|update|up)\b/.test(l) && !/^\s*#/.test(l))
    .map((l) => l.replace(/\$\((\w+)\)/g, (m, name: string) => vars.get(name) ?? m).trim())
    .filter((l) => !(/--no-save\b/.test(l) && /\s\S+@\d+\.\d+\.\d+$/.test(l)));
}

describe("pinned dependencies", () => {
  // @fault pinned-dependencies | a caret range put in package.json's dependencies | refused, naming the package; the lockfile must name the same versions
  it("names every Node package by an exact version, and the lockfile holds the same", async () => {
    const pkg = JSON.parse(await read("package.json")) as PackageJson;
    expect(unpinnedPackages(pkg)).toEqual([]);
    const lock = JSON.parse(await read("package-lock.json")) as { packages: Record<string, PackageJson> };
    expect(lock.packages[""]?.dependencies).toEqual(pkg.dependencies);
    expect(lock.packages[""]?.devDependencies).toEqual(pkg.devDependencies);
    const loose = { ...pkg, dependencies: { ...pkg.dependencies, yaml: "^2.9.1" } };
    expect(unpinnedPackages(loose)).toEqual(["yaml@^2.9.1"]);
  });

  // @fault pinned-dependencies | a lower bound and a bare name put in stages/requirements.txt | refused: every requirement is name==version
  it("pins every Python requirement of the toolchain and the dev tools with ==", async () => {
    for (const file of ["stages/requirements.txt", "stages/requirements-dev.txt"])
      expect(loosePins(await read(file)), file).toEqual([]);
    const text = await read("stages/requirements.txt");
    expect(loosePins(`${text}\nnumpy>=2\ntransformers\nfoo==1.*\n`)).toEqual([
      "numpy>=2",
      "transformers",
      "foo==1.*",
    ]);
  });

  // @fault pinned-dependencies | an `npm install` step added to a workflow | refused: Node packages come from the lockfile with npm ci
  it("installs Node packages with npm ci, in every workflow and the Makefile", async () => {
    const dir = ".github/workflows";
    const files = ["Makefile", ...(await readdir(path.join(REPO_ROOT, dir))).map((f) => `${dir}/${f}`)];
    for (const file of files) expect(resolvingInstalls(await read(file)), file).toEqual([]);
    expect(await read("Makefile")).toMatch(/\n\tnpm ci\b/);
    expect(resolvingInstalls("        run: npm install --no-audit\n")).toEqual([
      "run: npm install --no-audit",
    ]);
  });
});
