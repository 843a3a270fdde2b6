/**
 * Builds the custom actions from actions/src/action-runs/io-table.ts: for each action, its `action.yml`, its
 * self-contained bundle `dist/index.js` (esbuild, of `actions/src/entries/<name>.ts`) and
 * `dist/licenses.txt` (the third-party packages inlined into it, with their license texts); and
 * the generated block of actions/README.md.
 *
 *   node scripts/build-actions.ts           write them (and remove dist files no action produces)
 *   node scripts/build-actions.ts --check   build in memory and fail, listing each stale file
 *
 * The bundles are ESM (the toolkit's @actions/core 3 ships ESM only, and `import.meta` finds the
 * checkout at run time); a `.js` file is ESM here because the repository's package.json says
 * `"type": "module"`. Output is deterministic: no timestamps, paths relative to the repository
 * (symlinks kept, so a git worktree sharing node_modules builds the same bytes), sorted inputs.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { build, type Metafile, type Plugin } from "esbuild";
import type { ActionName } from "../actions/src/action-runs/io-table.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { actionsReadme, actionYml, BUNDLE, generatedBy } from "./action-metadata.ts";

/** The bundle of each action: its entry, one per line. Adding an action adds a line here. */
export const ENTRIES: Record<ActionName, string> = {
  plan: "actions/src/entries/plan.ts",
  health: "actions/src/entries/health.ts",
  export: "actions/src/entries/export.ts",
  quantize: "actions/src/entries/quantize.ts",
  lower: "actions/src/entries/lower.ts",
  execute: "actions/src/entries/execute.ts",
  gate: "actions/src/entries/gate.ts",
  compare: "actions/src/entries/compare.ts",
  report: "actions/src/entries/report.ts",
  release: "actions/src/entries/release.ts",
};

const README = "actions/README.md";

/**
 * @actions/core imports its HTTP client (and with it undici, ~0.8 MB) only for getIDToken, which
 * no pte-farm action calls. Declaring the client free of side effects lets esbuild drop it when
 * nothing uses it; if an action ever calls getIDToken, the client is bundled as usual.
 */
const unusedHttpClient: Plugin = {
  name: "side-effect-free-http-client",
  setup(b) {
    b.onResolve({ filter: /^@actions\/http-client(\/|$)/ }, async (args) => {
      if (args.pluginData === "resolved") return undefined;
      const r = await b.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: "resolved",
      });
      return { path: r.path, namespace: r.namespace, external: r.external, sideEffects: false };
    });
  },
};

/** CommonJS dependencies bundled into ESM call `require` for Node built-ins; this gives them one. */
const REQUIRE_SHIM =
  'import { createRequire as __pteFarmCreateRequire } from "node:module";\n' +
  "const require = __pteFarmCreateRequire(import.meta.url);";

function header(name: ActionName): string {
  const [what, how] = generatedBy(ENTRIES[name]);
  return `// ${what}\n// ${how}\n${REQUIRE_SHIM}`;
}

/** `node_modules/a/node_modules/@b/c/x.js` → `node_modules/a/node_modules/@b/c`. */
function packageDir(input: string): string | null {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1] ?? null;
}

/** The third-party packages whose code is in the bundle, with name, version, license and its text. */
async function licenses(metafile: Metafile, outfile: string): Promise<string> {
  const output = metafile.outputs[outfile];
  if (output === undefined) throw new Error(`bug: esbuild wrote no ${outfile}`);
  const dirs = new Set<string>();
  for (const [input, info] of Object.entries(output.inputs)) {
    const dir = packageDir(input);
    if (dir !== null && info.bytesInOutput > 0) dirs.add(dir);
  }
  const entries: string[] = [];
  for (const dir of [...dirs].sort()) {
    const abs = path.join(REPO_ROOT, dir);
    const pkg = JSON.parse(await readFile(path.join(abs, "package.json"), "utf8")) as {
      name: string;
      version: string;
      license?: string;
    };
    const files = (await readdir(abs)).filter((f) => /^(licen[cs]e|copying)/i.test(f)).sort();
    const text =
      files[0] === undefined
        ? "(no license file in the package)"
        : await readFile(path.join(abs, files[0]), "utf8");
    entries.push(`${pkg.name}@${pkg.version} (${pkg.license ?? "license not stated"})\n\n${text.trim()}\n`);
  }
  const note = [`Third-party code bundled into ${outfile}.`, ...generatedBy("the bundle's inputs")].join(
    "\n",
  );
  return `${[note, ...entries].join(`\n${"-".repeat(78)}\n\n`)}`;
}

/** Every generated file, by path relative to the repository root, with its exact text. */
export async function generate(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of Object.keys(ENTRIES) as ActionName[]) {
    files.set(`actions/${name}/action.yml`, actionYml(name));
    const outfile = `actions/${name}/${BUNDLE}`;
    const result = await build({
      absWorkingDir: REPO_ROOT,
      entryPoints: [ENTRIES[name]],
      outfile,
      bundle: true,
      platform: "node",
      target: "node24",
      format: "esm",
      write: false,
      metafile: true,
      preserveSymlinks: true,
      legalComments: "eof",
      charset: "utf8",
      banner: { js: header(name) },
      plugins: [unusedHttpClient],
      logLevel: "warning",
    });
    const [out] = result.outputFiles;
    if (out === undefined) throw new Error(`bug: esbuild produced nothing for ${name}`);
    files.set(outfile, out.text);
    files.set(`actions/${name}/dist/licenses.txt`, await licenses(result.metafile, outfile));
  }
  files.set(README, actionsReadme(await readFile(path.join(REPO_ROOT, README), "utf8")));
  return files;
}

/** Files under `actions/<name>/dist/` that exist in `root` but that no action produces. */
async function strayDistFiles(root: string, files: ReadonlyMap<string, string>): Promise<string[]> {
  const stray: string[] = [];
  const folders = await readdir(path.join(root, "actions"), { withFileTypes: true });
  for (const f of folders.filter((d) => d.isDirectory() && d.name !== "src")) {
    const dist = path.join(root, "actions", f.name, "dist");
    if (!existsSync(dist)) continue;
    for (const e of await readdir(dist, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const rel = path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/");
      if (!files.has(rel)) stray.push(rel);
    }
  }
  return stray.sort();
}

/** What differs between `files` and the tree at `root`: `stale`, `missing` or `not generated`, one per line. */
export async function staleFiles(
  files: ReadonlyMap<string, string>,
  root: string = REPO_ROOT,
): Promise<string[]> {
  const problems: string[] = [];
  for (const [rel, text] of files) {
    const current = await readFile(path.join(root, rel), "utf8").catch(() => null);
    if (current === null) problems.push(`missing: ${rel}`);
    else if (current !== text) problems.push(`stale: ${rel}`);
  }
  for (const rel of await strayDistFiles(root, files)) problems.push(`not generated: ${rel}`);
  return problems;
}

async function writeAll(files: ReadonlyMap<string, string>): Promise<void> {
  for (const rel of await strayDistFiles(REPO_ROOT, files)) await rm(path.join(REPO_ROOT, rel));
  for (const [rel, text] of files) {
    await mkdir(path.dirname(path.join(REPO_ROOT, rel)), { recursive: true });
    await writeFile(path.join(REPO_ROOT, rel), text);
  }
}

if (import.meta.main) {
  const files = await generate();
  if (process.argv.includes("--check")) {
    const problems = await staleFiles(files);
    if (problems.length > 0) {
      console.error(
        `${problems.join("\n")}\n\nthe actions are out of date: run \`node scripts/build-actions.ts\``,
      );
      process.exitCode = 1;
    } else console.log(`${files.size} generated action files are up to date`);
  } else {
    await writeAll(files);
    for (const [rel, text] of files) {
      if (rel.endsWith(".js")) console.log(`${rel}  ${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB`);
    }
    console.log(`wrote ${files.size} files`);
  }
}
