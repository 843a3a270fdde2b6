/**
 * The security model as structural checks on the real workflow files (scripts/workflow-policy/).
 * Each rule is shown to pass on the repository's workflows and to fail on a broken variant: the
 * real file with one line changed, so a rule that stops looking would fail here.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { readLocalActions, readWorkflows } from "../scripts/lint-workflows.ts";
import { type LocalAction, parseActionYml } from "../scripts/local-actions.ts";
import { checkPolicy, type PolicyOptions } from "../scripts/workflow-policy/policy.ts";
import {
  effectiveTriggers,
  hostedByConstruction,
  parseWorkflow,
  type WorkflowFile,
} from "../scripts/workflow-policy/workflow.ts";

let real: WorkflowFile[];
/** The interfaces of the repository's actions/<name>/action.yml files. */
let actions: LocalAction[];
beforeAll(async () => {
  real = await readWorkflows();
  actions = await readLocalActions();
});

function file(name: string): WorkflowFile {
  const wf = real.find((w) => w.name === name);
  if (wf === undefined) throw new Error(`no workflow ${name}`);
  return wf;
}

/** The real workflows with `name` edited; the edit must apply, so a stale test fails loudly. */
function edited(name: string, from: string | RegExp, to: string): WorkflowFile[] {
  const text = file(name).text;
  const next = text.replace(from, to);
  if (next === text) throw new Error(`edit of ${name} did not apply: ${String(from)}`);
  return real.map((w) => (w.name === name ? parseWorkflow(name, next) : w));
}

function rules(workflows: WorkflowFile[], rule: string, options: PolicyOptions = {}): string[] {
  return checkPolicy(workflows, actions, { ...options, only: rule }).map((f) => `${f.file}: ${f.message}`);
}

const SHA = "3d3c42e5aac5ba805825da76410c181273ba90b1";

function snippet(name: string, text: string): WorkflowFile {
  return parseWorkflow(name, text);
}

describe("workflow policy on the repository's workflows", () => {
  it("finds nothing", () => {
    expect(checkPolicy(real, actions)).toEqual([]);
  });

  it("has the farm's workflows, and knows farm-device runs for pull requests through farm-pr", () => {
    expect(real.map((w) => w.name)).toEqual(
      expect.arrayContaining([
        "ci.yml",
        "farm-pr.yml",
        "farm-report.yml",
        "farm-nightly.yml",
        "farm-device.yml",
        "farm-release.yml",
      ]),
    );
    const eff = effectiveTriggers(new Map(real.map((w) => [w.name, w])));
    expect([...(eff.get("farm-device.yml") ?? [])].sort()).toEqual([
      "pull_request",
      "push",
      "schedule",
      "workflow_dispatch",
    ]);
    expect([...(eff.get("farm-report.yml") ?? [])]).toEqual(["workflow_run"]);
  });
});

describe("no-pull-request-target", () => {
  // @fault no-pull-request-target | pull_request_target as a string, in a list and as a mapping | each is rejected
  it("rejects the trigger in any form", () => {
    for (const on of [
      "pull_request_target",
      "[push, pull_request_target]",
      "{ pull_request_target: { types: [opened] } }",
    ]) {
      const wf = snippet("x.yml", `on: ${on}\npermissions: {}\njobs: {}\n`);
      expect(rules([wf], "no-pull-request-target")).toHaveLength(1);
    }
  });

  // @fault no-pull-request-target | farm-pr.yml's trigger switched to pull_request_target | the workflow policy (make lint) rejects it, naming the file
  it("rejects farm-pr switched to it", () => {
    const bad = edited("farm-pr.yml", /^on:\n {2}pull_request:$/m, "on:\n  pull_request_target:");
    expect(rules(bad, "no-pull-request-target")).toEqual([
      expect.stringContaining("farm-pr.yml: uses pull_request_target"),
    ]);
  });
});

describe("top-permissions", () => {
  // @fault least-privilege | no top-level permissions block, write-all, a top-level write | each is rejected; {} and read-only pass
  it("accepts {} and read-only, rejects a missing block and any write", () => {
    const top = (p: string) => rules([snippet("x.yml", `on: push\n${p}jobs: {}\n`)], "top-permissions");
    expect(top("permissions: {}\n")).toEqual([]);
    expect(top("permissions:\n  contents: read\n")).toEqual([]);
    expect(top("")).toEqual(["x.yml: no top-level permissions; set `permissions: {}`"]);
    expect(top("permissions: write-all\n")).toHaveLength(1);
    expect(top("permissions:\n  contents: write\n")).toEqual([
      expect.stringContaining("top-level contents: write"),
    ]);
  });

  // @fault least-privilege | farm-nightly's contents: write moved to the top-level permissions | the policy rejects it
  it("rejects farm-nightly with its history job's write moved to the top", () => {
    const bad = edited("farm-nightly.yml", /^permissions: \{\}$/m, "permissions:\n  contents: write");
    expect(rules(bad, "top-permissions")).toHaveLength(1);
  });
});

describe("pinned-uses", () => {
  const uses = (u: string) =>
    rules(
      [
        snippet(
          "x.yml",
          `on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: ${u}\n`,
        ),
      ],
      "pinned-uses",
    );

  it("accepts a SHA with its tag, local actions and docker digests", () => {
    expect(uses(`actions/checkout@${SHA} # v7.0.1`)).toEqual([]);
    expect(uses("./actions/plan")).toEqual([]);
    expect(uses(`docker://alpine@sha256:${"a".repeat(64)}`)).toEqual([]);
  });

  // @fault pinned-actions | a tag, a branch, a short SHA, a SHA without its tag comment, a docker tag | each is rejected
  it("rejects a tag, a branch, a short SHA, a SHA without its tag comment, and a docker tag", () => {
    expect(uses("actions/checkout@v4")).toEqual([
      expect.stringContaining("not pinned by a 40-hex commit SHA"),
    ]);
    expect(uses("actions/checkout@main")).toHaveLength(1);
    expect(uses("actions/checkout@3d3c42e")).toHaveLength(1);
    expect(uses(`actions/checkout@${SHA}`)).toEqual([expect.stringContaining('needs a "# vX.Y.Z" comment')]);
    expect(uses("docker://alpine:3")).toEqual([expect.stringContaining("not pinned by digest")]);
  });

  // @fault pinned-actions | farm-report's download-artifact moved from its SHA to @v8 | the policy rejects it, naming the file
  it("rejects a real workflow with one action moved to a tag", () => {
    const bad = edited(
      "farm-report.yml",
      /actions\/download-artifact@[0-9a-f]{40} # v8\.0\.1/,
      "actions/download-artifact@v8",
    );
    expect(rules(bad, "pinned-uses")).toEqual([expect.stringContaining("farm-report.yml:")]);
  });
});

describe("checkout-credentials", () => {
  // @fault no-persisted-credentials | farm-build.yml's checkout set to persist-credentials: true | the policy rejects it, naming the job
  it("rejects a checkout that keeps the token in .git/config", () => {
    const bad = edited("farm-build.yml", "persist-credentials: false", "persist-credentials: true");
    expect(rules(bad, "checkout-credentials")).toEqual([
      expect.stringContaining("farm-build.yml: job build"),
    ]);
  });
});

describe("pr-read-only: nothing that runs for a pull request can write or see a secret", () => {
  // @fault no-secrets-in-pr | a write permission on a farm-pr job | the policy rejects it
  it("rejects a write permission on a farm-pr job", () => {
    const bad = edited(
      "farm-pr.yml",
      /( {2}results:[\s\S]*?permissions:) \{\}/,
      "$1\n      pull-requests: write",
    );
    expect(rules(bad, "pr-read-only")).toEqual([
      "farm-pr.yml: job results runs PR code with pull-requests: write",
    ]);
  });

  // @fault no-secrets-in-pr | a write permission in a workflow farm-pr calls | the policy rejects it
  it("rejects a write permission in a workflow farm-pr calls", () => {
    const bad = edited("farm-device.yml", /(permissions:\n(?: {6}.*\n)* {6}contents:) read/, "$1 write");
    expect(rules(bad, "pr-read-only")).toEqual([
      "farm-device.yml: job cell runs PR code with contents: write",
    ]);
  });

  // @fault no-secrets-in-pr | a secret, and secrets passed to a called workflow, in what farm-pr runs | the policy rejects them
  it("rejects a secret, and passing secrets to a called workflow", () => {
    const secret = edited(
      "farm-pr.yml",
      `DEVICES: \${{ needs.plan.outputs.devices }}\n        run: |\n          out=`,
      `DEVICES: \${{ secrets.FARM_TOKEN }}\n        run: |\n          out=`,
    );
    expect(rules(secret, "pr-read-only")).toEqual([
      "farm-pr.yml: references a secret; PR code must never see one",
    ]);
    const inherit = edited(
      "farm-pr.yml",
      "    uses: ./.github/workflows/farm-device.yml\n",
      "    uses: ./.github/workflows/farm-device.yml\n    secrets: inherit\n",
    );
    expect(rules(inherit, "pr-read-only")).toEqual([
      "farm-pr.yml: job device passes secrets to a workflow that runs PR code",
    ]);
  });

  // @fault no-secrets-in-pr | cancel-queued given a checkout, a local action, or contents: write | the policy rejects each: only a job of run: steps alone may hold actions: write
  it("allows actions: write only to a job that runs no repository code (cancel-queued), and no other write there", () => {
    expect(file("farm-pr.yml").text).toContain("actions: write # cancel this run");
    const checkout = edited(
      "farm-pr.yml",
      /( {2}cancel-queued:[\s\S]*?steps:\n)/,
      `$1      - uses: actions/checkout@${SHA} # v7.0.1\n        with:\n          persist-credentials: false\n`,
    );
    expect(rules(checkout, "pr-read-only")).toEqual([
      "farm-pr.yml: job cancel-queued runs PR code with actions: write",
    ]);
    const local = edited(
      "farm-pr.yml",
      /( {2}cancel-queued:[\s\S]*?steps:\n)/,
      "$1      - uses: ./actions/plan\n",
    );
    expect(rules(local, "pr-read-only")).toEqual([
      "farm-pr.yml: job cancel-queued runs PR code with actions: write",
    ]);
    const more = edited(
      "farm-pr.yml",
      "      actions: write # cancel this run\n",
      "      actions: write\n      contents: write\n",
    );
    expect(rules(more, "pr-read-only")).toEqual([
      "farm-pr.yml: job cancel-queued runs PR code with contents: write",
    ]);
  });

  it("allows writes in workflows no pull request reaches (farm-nightly's history job)", () => {
    expect(file("farm-nightly.yml").text).toContain("contents: write");
    expect(rules(real, "pr-read-only")).toEqual([]);
  });
});

describe("fork-approval: self-hosted jobs of a pull request wait for an approval of that exact SHA", () => {
  // @fault fork-approval | farm-device.yml's farm-hardware-fork environment removed | the policy rejects the device job that may run on self-hosted hardware
  it("rejects a device job without the fork environment", () => {
    const bad = edited("farm-device.yml", /^ {4}environment: .*$/m, "");
    expect(rules(bad, "fork-approval")).toEqual([
      expect.stringContaining(
        "farm-device.yml: job cell may run on a self-hosted runner but does not use the farm-hardware-fork environment",
      ),
    ]);
  });

  // @fault fork-approval | the environment made the same for forks and the repository's own PRs | the policy rejects it
  it("rejects an environment that is the same for forks and everyone else", () => {
    const bad = edited("farm-device.yml", /^ {4}environment: .*$/m, "    environment: farm-hardware");
    expect(rules(bad, "fork-approval")).toHaveLength(1);
  });

  // @fault approved-sha | farm-device.yml's checkout ref changed to github.sha | the policy rejects a checkout that is not the PR's head SHA
  it("rejects checking out something other than the PR's head SHA", () => {
    const bad = edited(
      "farm-device.yml",
      `ref: \${{ github.event.pull_request.head.sha || github.sha }}`,
      `ref: \${{ github.sha }}`,
    );
    expect(rules(bad, "fork-approval")).toEqual([
      expect.stringContaining("does not check out github.event.pull_request.head.sha"),
    ]);
  });

  // @fault approved-sha | farm-device.yml's HEAD check made to compare the SHA with itself | the policy rejects running anything before HEAD is verified as the approved SHA
  it("rejects running anything before HEAD is verified", () => {
    const bad = edited("farm-device.yml", 'actual="$(git rev-parse HEAD)"', 'actual="$APPROVED_SHA"');
    expect(rules(bad, "fork-approval")).toEqual([
      expect.stringContaining("before verifying that HEAD is the approved SHA"),
    ]);
  });

  it("treats a build job whose runs-on came from the plan as possibly self-hosted", () => {
    const bad = edited(
      "farm-build.yml",
      `runs-on: \${{ fromJSON(inputs.job).arch == 'arm64' && 'ubuntu-24.04-arm' || 'ubuntu-24.04' }}`,
      `runs-on: \${{ fromJSON(inputs.job).runs_on }}`,
    );
    expect(rules(bad, "fork-approval")).toEqual([
      expect.stringContaining("farm-build.yml: job build may run on a self-hosted runner"),
      expect.stringContaining(
        "farm-build.yml: job build runs something before verifying that HEAD is the approved SHA",
      ),
    ]);
  });

  it("reads runs-on conservatively", () => {
    expect(hostedByConstruction("ubuntu-24.04")).toBe(true);
    expect(hostedByConstruction(`\${{ x == 'arm64' && 'ubuntu-24.04-arm' || 'ubuntu-24.04' }}`)).toBe(true);
    expect(hostedByConstruction(["self-hosted", "linux", "ARM64", "pi5"])).toBe(false);
    expect(hostedByConstruction(`\${{ matrix.label || 'ubuntu-24.04' }}`)).toBe(false);
    expect(hostedByConstruction(`\${{ x && 'self-hosted' || 'ubuntu-24.04' }}`)).toBe(false);
    expect(hostedByConstruction({ group: "boards", labels: ["pi5"] })).toBe(false);
  });
});

describe("workflow-run-trusted: farm-report never checks out or runs PR code", () => {
  it("rejects a checkout of the PR's head", () => {
    const bad = edited(
      "farm-report.yml",
      "        with:\n          persist-credentials: false",
      `        with:\n          ref: \${{ github.event.workflow_run.head_sha }}\n          persist-credentials: false`,
    );
    expect(rules(bad, "workflow-run-trusted")).toEqual([
      expect.stringContaining("checks out a ref or repository"),
    ]);
  });

  it("rejects allow-unsafe-pr-checkout, a run: step, and a local action outside ./actions/", () => {
    const unsafe = edited(
      "farm-report.yml",
      "          persist-credentials: false",
      "          persist-credentials: false\n          allow-unsafe-pr-checkout: true",
    );
    expect(rules(unsafe, "workflow-run-trusted")).toEqual([
      expect.stringContaining("sets allow-unsafe-pr-checkout"),
    ]);
    const run = edited(
      "farm-report.yml",
      "      - uses: ./actions/report",
      "      - run: node farm-results/render.js\n      - uses: ./actions/report",
    );
    expect(rules(run, "workflow-run-trusted")).toEqual([expect.stringContaining("has a run: step")]);
    const local = edited(
      "farm-report.yml",
      "      - uses: ./actions/report",
      "      - uses: ./farm-results/report",
    );
    expect(rules(local, "workflow-run-trusted")).toEqual([
      expect.stringContaining("uses local action ./farm-results/report"),
    ]);
  });

  it("rejects an artefact downloaded into the checkout, where it could replace ./actions/report", async () => {
    const bad = edited("farm-report.yml", `path: \${{ runner.temp }}/farm-results`, "path: .");
    expect(rules(bad, "workflow-run-trusted")).toEqual([
      expect.stringContaining("downloads an artefact to .;"),
    ]);
    const none = edited("farm-report.yml", /\n {10}path: \$\{\{ runner\.temp \}\}\/farm-results/, "");
    expect(rules(none, "workflow-run-trusted")).toEqual([
      expect.stringContaining("downloads an artefact to the workspace"),
    ]);
  });
});

describe("reusable-inputs", () => {
  it("rejects an undeclared input, a missing required one, and a missing file", () => {
    const typo = edited(
      "farm-pr.yml",
      "      artifact-prefix: results\n",
      "      artefact-prefix: results\n",
    );
    expect(rules(typo, "reusable-inputs")).toEqual([
      "farm-pr.yml: job device passes input artefact-prefix, which farm-device.yml does not declare",
      "farm-pr.yml: job device does not pass farm-device.yml's required input artifact-prefix",
    ]);
    const gone = real.filter((w) => w.name !== "farm-build.yml");
    expect(rules(gone, "reusable-inputs")).toEqual([
      "farm-nightly.yml: job build calls farm-build.yml, which does not exist",
      "farm-pr.yml: job build calls farm-build.yml, which does not exist",
      "farm-release.yml: job build calls farm-build.yml, which does not exist",
    ]);
  });
});

describe("local-action-io: calls of ./actions/<name> match its action.yml", () => {
  it("finds nothing in the real workflows: every local action call matches its action.yml", () => {
    expect(rules(real, "local-action-io")).toEqual([]);
  });

  it("rejects a misspelt input, which also leaves a required one out", () => {
    const bad = edited(
      "farm-build.yml",
      `program: \${{ steps.quantize.outputs.program }}`,
      `programme: \${{ steps.quantize.outputs.program }}`,
    );
    expect(rules(bad, "local-action-io")).toEqual([
      expect.stringMatching(
        /^farm-build\.yml: job build step \d+ \(\.\/actions\/lower\): passes input programme, which \.\/actions\/lower does not declare \(inputs: build, program, /,
      ),
      expect.stringMatching(
        /job build step \d+ \(\.\/actions\/lower\): does not pass \.\/actions\/lower's required input program$/,
      ),
    ]);
  });

  it("rejects an action folder that does not exist", () => {
    const bad = edited(
      "farm-build.yml",
      "      - uses: ./actions/lower\n",
      "      - uses: ./actions/lowering\n",
    );
    expect(rules(bad, "local-action-io")).toEqual([
      expect.stringMatching(
        /^farm-build\.yml: job build step \d+ \(\.\/actions\/lowering\): there is no actions\/lowering\/action\.yml \(actions: .*\blower\b/,
      ),
    ]);
  });

  it("rejects reading an output the action does not set, in an expression and in a bare if:", () => {
    const bad = edited(
      "farm-device.yml",
      `RECORD: \${{ steps.gate.outputs.record }}`,
      `RECORD: \${{ steps.gate.outputs.run-record }}`,
    );
    expect(rules(bad, "local-action-io")).toEqual([
      "farm-device.yml: job cell reads steps.gate.outputs.run-record, which ./actions/gate does not set (outputs: record, base-record, verdict, status)",
    ]);
    const bare = edited(
      "farm-device.yml",
      "if: inputs.compare && steps.gate.outputs.status == 'pass'\n        env:",
      "if: inputs.compare && steps.gate.outputs.state == 'pass'\n        env:",
    );
    expect(rules(bare, "local-action-io")).toEqual([
      expect.stringContaining("job cell reads steps.gate.outputs.state, which ./actions/gate does not set"),
    ]);
  });

  it("checks the report action's calls in farm-report and farm-nightly against its action.yml", () => {
    const bad = edited(
      "farm-report.yml",
      "          mode: pr\n",
      "          mode: pr\n          artefact: x\n",
    );
    expect(rules(bad, "local-action-io")).toEqual([
      expect.stringMatching(
        /^farm-report\.yml: job report step \d+ \(\.\/actions\/report\): passes input artefact, which \.\/actions\/report does not declare/,
      ),
    ]);
    const noMode = edited("farm-nightly.yml", "          mode: nightly\n", "");
    expect(rules(noMode, "local-action-io")).toEqual([
      expect.stringContaining("does not pass ./actions/report's required input mode"),
    ]);
  });

  it("matches names case-insensitively, reads outputs['x'], and refuses a local action outside actions/", () => {
    const wf = (body: string) =>
      snippet(
        "x.yml",
        `on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n${body}`,
      );
    const ok = wf(
      [
        "      - uses: ./actions/compare",
        "        id: cmp",
        "        with: { BASE: a.json, head: b.json }",
        `      - run: echo "\${{ steps.cmp.outputs.Verdict }} \${{ steps.CMP.outputs['comparison'] }}"`,
      ].join("\n"),
    );
    expect(rules([ok], "local-action-io")).toEqual([]);
    const bad = wf(
      [
        "      - uses: ./actions/compare/",
        "        id: cmp",
        "        with: { base: a.json, head: b.json }",
        `      - run: echo "\${{ steps.cmp.outputs['verdicts'] }}"`,
        "      - uses: ./tools/compare",
      ].join("\n"),
    );
    expect(rules([bad], "local-action-io")).toEqual([
      "x.yml: job a step 3 (./tools/compare): local actions live in actions/<name>/, where this rule can check them",
      "x.yml: job a reads steps.cmp.outputs.verdicts, which ./actions/compare does not set (outputs: comparison, verdict)",
    ]);
  });
});

describe("parseActionYml", () => {
  it("reads inputs (required only without a default) and outputs; refuses a file that is not a mapping", () => {
    const a = parseActionYml(
      "x",
      [
        "name: x",
        "inputs:",
        "  must: { description: m, required: true }",
        "  may: { description: m, required: false, default: '' }",
        "  defaulted: { description: m, required: true, default: '1' }",
        "outputs:",
        "  out: { description: o }",
        "runs: { using: node24, main: dist/index.js }",
      ].join("\n"),
    );
    expect(a).toEqual({
      name: "x",
      inputs: { must: { required: true }, may: { required: false }, defaulted: { required: false } },
      outputs: ["out"],
    });
    expect(parseActionYml("y", "name: y\nruns: { using: composite, steps: [] }\n")).toEqual({
      name: "y",
      inputs: {},
      outputs: [],
    });
    expect(() => parseActionYml("z", "- a list\n")).toThrow("actions/z/action.yml: not a YAML mapping");
    expect(() => parseActionYml("z", "inputs: [a]\n")).toThrow(
      "actions/z/action.yml: inputs is not a mapping",
    );
  });

  it("reads the repository's action.yml files as generated from io-table.ts", () => {
    const gate = actions.find((a) => a.name === "gate");
    expect(gate?.inputs.cell).toEqual({ required: true });
    expect(gate?.inputs.reference).toEqual({ required: false });
    expect(gate?.outputs).toEqual(["record", "base-record", "verdict", "status"]);
  });
});

describe("zizmor-ignores", () => {
  it("allows only dangerous-triggers on the workflow_run line", () => {
    expect(file("farm-report.yml").text).toContain("workflow_run: # zizmor: ignore[dangerous-triggers]");
    const other = edited(
      "farm-pr.yml",
      "      - name: Assemble records, comparisons and pr.json",
      "      - name: Assemble records, comparisons and pr.json # zizmor: ignore[template-injection]",
    );
    expect(rules(other, "zizmor-ignores")).toEqual([
      expect.stringContaining("zizmor ignore[template-injection] is not allowed"),
    ]);
    const moved = edited(
      "farm-report.yml",
      "workflow_run: # zizmor: ignore[dangerous-triggers]",
      "workflow_run:\n    # zizmor: ignore[dangerous-triggers]",
    );
    expect(rules(moved, "zizmor-ignores")).toHaveLength(1);
  });
});

describe("writes-hosted: a job that can write never runs on a board", () => {
  it("rejects farm-release's release job moved to the plan's runs_on", () => {
    const bad = edited(
      "farm-release.yml",
      /(\n {2}release:\n(?:.*\n)*? {4}runs-on: )ubuntu-24\.04/,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template
      "$1${{ fromJSON(needs.plan.outputs.devices).include[0].runs_on }}",
    );
    expect(rules(bad, "writes-hosted")).toEqual([
      expect.stringMatching(
        /^farm-release\.yml: job release holds contents: write, id-token: write, attestations: write/,
      ),
    ]);
  });

  it("rejects farm-nightly's history job on a self-hosted label", () => {
    const bad = edited(
      "farm-nightly.yml",
      /(\n {2}history:\n(?:.*\n)*? {4}runs-on: )ubuntu-24\.04/,
      "$1[self-hosted, pi5]",
    );
    expect(rules(bad, "writes-hosted")).toEqual([
      expect.stringContaining("job history holds contents: write"),
    ]);
  });
});

describe("release-attested: nothing is published without provenance", () => {
  it("rejects farm-release with its attestation step removed", () => {
    const bad = edited(
      "farm-release.yml",
      /\n {6}- uses: actions\/attest-build-provenance@.*\n(?: {8}.*\n)+/,
      "\n",
    );
    expect(rules(bad, "release-attested")).toEqual([
      "farm-release.yml: job release publishes a release without an actions/attest-build-provenance step before it",
    ]);
  });

  it("rejects the attestation moved after the publish step", () => {
    const text = file("farm-release.yml").text;
    const attest = /\n( {6}- uses: actions\/attest-build-provenance@.*\n(?: {8}.*\n)+)/.exec(text)?.[1];
    if (attest === undefined) throw new Error("farm-release.yml has no attestation step");
    const moved = `${text.replace(attest, "")}${attest}`;
    const bad = real.map((w) => (w.name === "farm-release.yml" ? parseWorkflow(w.name, moved) : w));
    expect(rules(bad, "release-attested")).toHaveLength(1);
  });
});

describe("run-expressions", () => {
  // @fault template-injection | the PR's matrix data written as ${{ }} into farm-device's run: script | the policy rejects it: pass it through env:
  it("refuses the PR's own matrix data pasted into a run: script (template injection zizmor rates info)", () => {
    const bad = edited(
      "farm-device.yml",
      'node scripts/find-base.ts --history .farm-history --cell "$CELL"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a JS template
      'node scripts/find-base.ts --history .farm-history --cell "${{ fromJSON(inputs.job).cell }}"',
    );
    expect(rules(bad, "run-expressions")).toEqual([
      expect.stringContaining("farm-device.yml: job cell, step "),
    ]);
    expect(rules(bad, "run-expressions")[0]).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a JS template
      "${{ fromJSON(inputs.job).cell }} in a run: script; pass it through env:",
    );
  });

  // @fault template-injection | ${{ runner.temp }} written into a run: script | rejected too, so no exception needs judging
  it("refuses even a harmless-looking context, so no exception needs judging", () => {
    const bad = edited(
      "farm-device.yml",
      'dir="$RUNNER_TEMP/pte-farm/build"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a JS template
      'dir="${{ runner.temp }}/pte-farm/build"',
    );
    expect(rules(bad, "run-expressions")).toHaveLength(1);
  });
});

describe("job-permissions", () => {
  it.each([
    [
      "farm-report.yml",
      "      pull-requests: write # the sticky comment",
      "      pull-requests: write # the sticky comment\n      id-token: write",
      "job report holds id-token: write",
    ],
    [
      "farm-report.yml",
      "      pull-requests: write # the sticky comment",
      "      pull-requests: write # the sticky comment\n      contents: write",
      "job report holds contents: write",
    ],
    [
      "farm-report.yml",
      "      pull-requests: write # the sticky comment",
      "      pull-requests: write # the sticky comment\n      packages: write",
      "job report holds packages: write",
    ],
    [
      "farm-nightly.yml",
      "      issues: write # one issue per regressed cell × metric",
      "      issues: write # one issue per regressed cell × metric\n      actions: write",
      "job issues holds actions: write",
    ],
  ])("refuses a scope beyond the job's allow-list (%s: %s)", (name, from, to, message) => {
    expect(rules(edited(name, from, to), "job-permissions")).toEqual([
      expect.stringContaining(`${name}: ${message}`),
    ]);
  });

  // @fault least-privilege | a job's contents: read raised to write; a job renamed out of the allow-list | rejected, naming the allow-list's file and scope
  it("refuses a raised level, and any scope on a job the allow-list does not know", () => {
    const raised = edited(
      "farm-nightly.yml",
      "      contents: read # the history branch",
      "      contents: write # the history branch",
    );
    expect(rules(raised, "job-permissions")).toEqual([
      expect.stringContaining(
        "farm-nightly.yml: job issues holds contents: write; its allow-list (scripts/workflow-policy/hygiene.ts) has contents: read",
      ),
    ]);
    const renamed = edited("farm-report.yml", /^ {2}report:$/m, "  post:");
    expect(rules(renamed, "job-permissions").length).toBe(3);
  });
});

describe("reusable-permissions", () => {
  it("refuses a caller that grants less than the reusable workflow's jobs ask for (GitHub refuses such a run at startup)", () => {
    const bad = edited(
      "farm-release.yml",
      "      actions: read # farm-device asks for it (a fork run's approval)\n",
      "",
    );
    expect(rules(bad, "reusable-permissions")).toEqual([
      "farm-release.yml: job device calls farm-device.yml, whose job cell asks for actions: read, which job device does not grant (GitHub refuses the run)",
    ]);
    const wider = snippet(
      "w.yml",
      "on: push\npermissions: {}\njobs:\n  a:\n    permissions: read-all\n    uses: ./.github/workflows/farm-build.yml\n    with: { job: '{}' }\n",
    );
    expect(rules([...real, wider], "reusable-permissions")).toEqual([]);
  });
});

describe("artifact-retention", () => {
  // @fault artefact-retention | an upload without retention-days; one kept 90 days | both rejected: set 1–14 days
  it("refuses an upload without retention-days, or kept longer than the bound", () => {
    expect(rules(edited("farm-build.yml", /\n\s+retention-days: 3/, ""), "artifact-retention")).toEqual([
      expect.stringContaining("farm-build.yml: job build: an upload-artifact step sets no retention-days"),
    ]);
    expect(
      rules(edited("farm-device.yml", "retention-days: 7", "retention-days: 90"), "artifact-retention"),
    ).toEqual([expect.stringContaining("sets retention-days: 90; set 1–14")]);
  });
});

describe("comment-concurrency", () => {
  // @fault sticky-comment-race | farm-report's concurrency group removed, made cancelling, or not keyed by the PR | the policy rejects each
  it("refuses farm-report without a concurrency group keyed by the PR, or one that cancels a report", () => {
    expect(
      rules(edited("farm-report.yml", /\nconcurrency:\n( {2}.*\n)+/, "\n"), "comment-concurrency"),
    ).toEqual([
      expect.stringContaining("farm-report.yml: has no concurrency group keyed by the pull request"),
    ]);
    expect(
      rules(
        edited("farm-report.yml", "cancel-in-progress: false", "cancel-in-progress: true"),
        "comment-concurrency",
      ),
    ).toEqual([expect.stringContaining("cancels a report in progress")]);
    expect(
      rules(edited("farm-report.yml", /group: farm-report-.*/, "group: farm-report"), "comment-concurrency"),
    ).toHaveLength(1);
  });
});
