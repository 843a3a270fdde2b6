/**
 * Every custom action's name, inputs and outputs: the one place they are spelled. Each
 * `actions/<name>/action.yml` is generated from this table (scripts/build-actions.ts, checked for
 * staleness in CI), and the actions read inputs and set outputs only through names typed from it
 * (actions/src/action-runs/io.ts), so a renamed input cannot drift from its action.yml.
 *
 * Adding an action: an entry here, `actions/src/action-runs/<name>.ts` exporting `run()`, and the
 * two-line `actions/src/entries/<name>.ts`; `node scripts/build-actions.ts` writes the rest.
 */
import { EVENTS } from "../../../matrix/schema.ts";
import { HEALTH_DEFAULTS } from "../health/defaults.ts";
import { ROLES, RUN_STATUSES } from "../schemas/run-record.ts";

export interface InputSpec {
  description: string;
  /** Required inputs have no default; GitHub warns when a workflow omits one, the action fails. */
  required?: boolean;
  default?: string;
}

export interface OutputSpec {
  description: string;
}

export interface ActionSpec {
  /** The action's display name in the GitHub UI. */
  name: string;
  description: string;
  inputs: Record<string, InputSpec>;
  outputs: Record<string, OutputSpec>;
}

/** Plan shards declared as outputs; a plan that needs more fails and says to raise this (and add jobs). */
export const MAX_SHARDS = 4;

const WORKSPACE_NOTE = "relative paths resolve against GITHUB_WORKSPACE";

const matrix = {
  description: `The farm definition (${WORKSPACE_NOTE}).`,
  default: "matrix/farm.yml",
} satisfies InputSpec;

const python = {
  description:
    "The toolchain's Python interpreter; empty: $PTE_FARM_PYTHON, else .venv/bin/python in the pte-farm checkout.",
  default: "",
} satisfies InputSpec;

const outDir = {
  description:
    `Where this job's stage folders, step notes (steps/*.json) and records go; every pte-farm step of a job ` +
    `should share it (${WORKSPACE_NOTE}).`,
  default: "out/actions",
} satisfies InputSpec;

const cacheDir = {
  description:
    "The content-addressed build cache; empty: $PTE_FARM_CACHE, else .cache/pte-farm in the pte-farm checkout. " +
    "Restore and save it with actions/cache to reuse builds across runs.",
  default: "",
} satisfies InputSpec;

const timeoutS = {
  description: "Per-stage timeout in seconds; the stage's whole process tree is killed.",
  default: "1800",
} satisfies InputSpec;

const build = {
  description:
    "One build entry of the plan's `builds` output, as JSON: in a job whose strategy.matrix is " +
    "fromJSON(needs.plan.outputs.builds), pass toJSON(matrix).",
  required: true,
} satisfies InputSpec;

const cell = {
  description: "The cell id, model/recipe/backend/device@toolchain (a device job's `cell`).",
  required: true,
} satisfies InputSpec;

const stageDir = { description: "The stage's folder: result.json, stage.log and its artefacts." };

const shardOutputs = <K extends string>(key: K, what: string) =>
  Object.fromEntries(
    Array.from({ length: MAX_SHARDS }, (_, i) => [
      `${key}_${i + 1}`,
      { description: `Shard ${i + 1} of ${what} when they do not fit one matrix (see shards).` },
    ]),
  ) as Record<`${K}_${1 | 2 | 3 | 4}`, OutputSpec>;

export const ACTIONS = {
  plan: {
    name: "pte-farm plan",
    description: "Expand the farm matrix into GitHub Actions build and device job lists for an event.",
    inputs: {
      event: { description: `The event to plan for: ${EVENTS.join(" | ")}.`, required: true },
      matrix,
      "changed-files": {
        description: `A file of changed paths, one per line (pull_request keeps only affected cells; ${WORKSPACE_NOTE}).`,
        default: "",
      },
      "base-matrix": {
        description: "The base branch's farm.yml, diffed when the matrix itself changed.",
        default: "",
      },
      history: {
        description:
          "A history store (dir:PATH, git:REPO[#branch] or postgres[:ENV], the URL in that environment variable): devices it shows quarantined get no jobs and their " +
          'cells are skipped, "quarantined: <why>". Empty: every device is planned.',
        default: "",
      },
    },
    outputs: {
      schema: { description: "pte-farm/plan@1" },
      event: { description: "The event planned for." },
      cell_set: { description: "The matrix cell set the event runs." },
      builds: { description: "Build jobs as a strategy matrix, {include: [...]}, when they fit one matrix." },
      devices: {
        description: "Device jobs as a strategy matrix, {include: [...]}, when they fit one matrix.",
      },
      ...shardOutputs("builds", "the build jobs"),
      ...shardOutputs("devices", "the device jobs"),
      shards: { description: "How many shards of each list there are: {builds, devices}." },
      skipped: { description: "Cells an exclude rule keeps out, with reasons." },
      selection: { description: "Every selected cell with the reason it runs." },
      changes: { description: "pull_request only: how each changed path was decided." },
    },
  },
  health: {
    name: "pte-farm health",
    description:
      "Check this runner before it executes anything: disk, memory, temperature, throttle history, the toolchain " +
      "against the matrix's pins, that the stages import, and a smoke .pte through the real ExecuTorch runtime. " +
      "Fails unless the state is good.",
    inputs: {
      device: {
        description: "The farm device this runner serves (a device job's `device`).",
        required: true,
      },
      toolchain: {
        description: "The matrix toolchain whose pins the runner must have.",
        default: HEALTH_DEFAULTS.toolchain,
      },
      matrix,
      python,
      "out-dir": outDir,
      "min-free-disk-mb": {
        description: "Least free space, in MiB, on the file system of out-dir.",
        default: HEALTH_DEFAULTS.minFreeDiskMb,
      },
      "min-free-memory-mb": {
        description: "Least available memory, in MiB.",
        default: HEALTH_DEFAULTS.minFreeMemoryMb,
      },
      "maintenance-file": {
        description: "A file whose presence puts this runner in maintenance (LAVA's state of that name).",
        default: HEALTH_DEFAULTS.maintenanceFile,
      },
      "cache-dir": cacheDir,
      history: {
        description:
          "A history store (dir:PATH, git:REPO[#branch] or postgres[:ENV], the URL in that environment variable) to append the report to; a good report lifts the " +
          "device's quarantine there. Empty: not stored (a device job's pre-flight check).",
        default: "",
      },
    },
    outputs: {
      state: { description: "good | unknown | bad | maintenance (LAVA's device health states)." },
      report: { description: "Path of the JSON report (pte-farm/health@1), one entry per check." },
      checks: { description: "Each check's status by name, as JSON: pass | fail | unknown | skip." },
    },
  },
  export: {
    name: "pte-farm export",
    description:
      "Build-job step one: the reference tokens (FP32 eager, and eager quantized for a quantized recipe) and " +
      "the exported program (.pt2), through the content-addressed build cache.",
    inputs: { build, matrix, python, "cache-dir": cacheDir, "out-dir": outDir, "timeout-s": timeoutS },
    outputs: {
      program: { description: "Path of the exported program (program.pt2)." },
      "program-sha256": { description: "sha256 of the exported program." },
      reference: { description: "Path of the reference stage's result.json (for execute and gate)." },
      "out-dir": stageDir,
    },
  },
  quantize: {
    name: "pte-farm quantize",
    description: "Build-job step two: apply the recipe to the exported program, through the build cache.",
    inputs: {
      build,
      program: { description: "The exported program (export's `program` output).", required: true },
      matrix,
      python,
      "cache-dir": cacheDir,
      "out-dir": outDir,
      "timeout-s": timeoutS,
    },
    outputs: {
      program: { description: "Path of the quantized program." },
      "program-sha256": { description: "sha256 of the quantized program." },
      "out-dir": stageDir,
    },
  },
  lower: {
    name: "pte-farm lower",
    description:
      "Build-job step three: lower the quantized program with the backend into a .pte and its manifest " +
      "(hashes, toolchain, delegation) for the device jobs, through the build cache.",
    inputs: {
      build,
      program: { description: "The quantized program (quantize's `program` output).", required: true },
      matrix,
      python,
      "cache-dir": cacheDir,
      "out-dir": outDir,
      "timeout-s": timeoutS,
    },
    outputs: {
      pte: { description: "Path of the .pte." },
      "pte-sha256": { description: "sha256 of the .pte." },
      manifest: { description: "Path of manifest.json; pass it with the .pte to the device job." },
      bpte: {
        description:
          "Path of the bundled program (.bpte) for an Ethos-U backend, empty for others; pass it beside " +
          "manifest.json (as its `bpte.file`) to the device job, whose FVP runner checks its outputs.",
      },
      "out-dir": stageDir,
    },
  },
  execute: {
    name: "pte-farm execute",
    description:
      "Device-job step: run the .pte with the device's driver (python-runtime, llama-main or fvp, from the matrix) " +
      "after checking its sha256 and the device's toolchain against the manifest, warm-up plus measured reps, " +
      "and keep the raw result.",
    inputs: {
      cell,
      pte: { description: "The .pte (lower's `pte` output, downloaded).", required: true },
      manifest: { description: "Its manifest.json (lower's `manifest` output).", required: true },
      reference: {
        description:
          "The reference result.json (export's `reference` output); its prompt ids are what the .pte is fed. " +
          "Required for models with prompts.",
        default: "",
      },
      reps: {
        description:
          "Measured repetitions. With a base: ignored; the session starts at compare/looks.ts's block and adds reps while the comparison asks for them.",
        default: "5",
      },
      warmup: { description: "Warm-up repetitions (per block of an interleaved session).", default: "1" },
      "base-pte": {
        description:
          "A pull request's base .pte (the base commit's build of this cell); empty: none. A different .pte is measured " +
          "interleaved (ABBA) with the head's, in blocks until the paired comparison decides, the compare cap, or the " +
          "device's session_minutes; a byte-identical one is not measured (output identical).",
        default: "",
      },
      "base-manifest": { description: "The base .pte's manifest.json; required with base-pte.", default: "" },
      "compare-config": {
        description: "The compare settings an interleaved session's looks use; empty: matrix/compare.yml.",
        default: "",
      },
      matrix,
      python,
      "out-dir": outDir,
      "timeout-s": timeoutS,
      runner: {
        description:
          "The native runner for devices whose driver needs one: llama-main, the llama_main binary " +
          "(empty: $PTE_FARM_LLAMA_MAIN, else llama_main on PATH); fvp, the bare-metal executor runner ELF " +
          "built with ET_BUNDLE_IO (empty: $PTE_FARM_FVP_RUNNER). $PTE_FARM_RUNNER_EXECUTORCH names the " +
          "ExecuTorch release it was built from, checked against the manifest's.",
        default: "",
      },
      tokenizer: {
        description:
          "llama-main: the tokenizer file llama_main loads; empty: tokenizer.json in the model folder.",
        default: "",
      },
      fvp: {
        description:
          "fvp: the FVP executable; empty: the device board's (FVP_Corstone_SSE-300_Ethos-U55, FVP_Corstone_SSE-320) on PATH.",
        default: "",
      },
      "fvp-pte-address": {
        description:
          "fvp: load the .pte into simulated memory at this address (--data, for a runner built with " +
          "-DET_MODEL_PTE_ADDR); empty: the runner reads it over semihosting.",
        default: "",
      },
    },
    outputs: {
      result: { description: "Path of the execute stage's result.json (tokens, timings, telemetry)." },
      "out-dir": stageDir,
      interleaved: {
        description: "true when base and head were measured interleaved (the gate writes both records).",
      },
      identical: {
        description: "true when the base .pte is byte-identical to the head's (nothing to compare).",
      },
    },
  },
  gate: {
    name: "pte-farm gate",
    description:
      "Device-job step: gate the executed tokens against the reference and write the run record " +
      "(pte-farm/run@1). Fails when the gate fails. With a failed earlier step (run it with `if: !cancelled()`) " +
      "it writes that failure's record instead.",
    inputs: {
      cell,
      reference: {
        description: "The reference result.json; may be empty when an earlier step failed.",
        default: "",
      },
      execute: { description: "Execute's `result`; may be empty when an earlier step failed.", default: "" },
      manifest: {
        description:
          "The .pte's manifest.json, for the record's build toolchain; empty: recorded as unknown.",
        default: "",
      },
      role: { description: `The record's role: ${ROLES.join(" | ")}.`, default: "head" },
      "base-manifest": {
        description:
          "An interleaved session's base manifest.json (execute's base-manifest): both records then name their partner .pte.",
        default: "",
      },
      "base-git-sha": {
        description:
          "An interleaved session's base commit (a pull request's base), for the base record; empty: git-sha.",
        default: "",
      },
      session: {
        description:
          "Session id shared by records measured together; empty: the workflow run id and attempt.",
        default: "",
      },
      "git-sha": {
        description: "The commit measured; empty: $GITHUB_SHA, else the checkout's HEAD.",
        default: "",
      },
      matrix,
      "out-dir": outDir,
    },
    outputs: {
      record: { description: "Path of the run record (run.json; the head's of an interleaved session)." },
      "base-record": {
        description: "An interleaved session's base run record (run.base.json); empty otherwise.",
      },
      verdict: { description: "The gate's verdict: pass | fail (fail also when no gate could run)." },
      status: { description: `The record's status: ${RUN_STATUSES.join(" | ")}.` },
    },
  },
  compare: {
    name: "pte-farm compare",
    description:
      "Head vs base run records: per-metric verdicts with confidence intervals. Fails on a regression; " +
      "inconclusive is a warning that says how many more reps would decide it.",
    inputs: {
      base: { description: "The base run record; empty with base-manifest.", default: "" },
      head: { description: "The head run record.", required: true },
      "base-manifest": {
        description:
          "Instead of a base record: the base build's manifest.json, whose .pte must be byte-identical to the head record's " +
          "(the comparison is then unchanged, identical artefact, without measuring).",
        default: "",
      },
      "across-toolchains": {
        description: "Allow base and head from different toolchains (never different devices).",
        default: "false",
      },
      config: {
        description: "Minimum effects per metric and device; empty: matrix/compare.yml.",
        default: "",
      },
      "out-dir": outDir,
    },
    outputs: {
      comparison: { description: "Path of the comparison JSON (pte-farm/compare@1)." },
      verdict: { description: "regression | improvement | unchanged | inconclusive" },
    },
  },
  report: {
    name: "pte-farm report",
    description:
      "Publish what the farm measured: in pr mode, one sticky comment on the pull request and one check run on " +
      "its head commit, from a PR run's results artefact read as hostile data; in nightly mode, one issue per " +
      "regressed cell × metric, opened, kept current and closed when it recovers. Never runs code from the artefact.",
    inputs: {
      mode: {
        description:
          "pr (farm-report, on workflow_run) | nightly (farm-nightly's issues job) | upstream (farm-upstream's issues job).",
        required: true,
      },
      "github-token": {
        description:
          "Token for the GitHub API: pr mode needs actions: read, checks: write, pull-requests: write; nightly and upstream need issues: write.",
        required: true,
      },
      artifact: {
        description: `pr: the downloaded farm-results artefact folder (${WORKSPACE_NOTE}).`,
        default: "",
      },
      history: {
        description:
          "nightly: the history store with tonight's records appended: a folder, dir:PATH, git:REPO[#branch] or postgres[:ENV].",
        default: "",
      },
      tonight: {
        description: `nightly: the folder of tonight's run records; upstream: of the channel's cells (${WORKSPACE_NOTE}).`,
        default: "",
      },
      bisects: {
        description: `upstream: a folder holding tonight's bisections (each bisect.json under it) (${WORKSPACE_NOTE}).`,
        default: "",
      },
      canaries: {
        description: `upstream: the canaries' canaries.json; a missing file means no canary ran (${WORKSPACE_NOTE}).`,
        default: "",
      },
      confirmations: {
        description: `nightly: the folder of the confirmation re-runs' records; may be empty (${WORKSPACE_NOTE}).`,
        default: "",
      },
      "known-issues": {
        description: `The known-issue catalogue (${WORKSPACE_NOTE}).`,
        default: "matrix/known-issues.yml",
      },
      "dashboard-url": {
        description:
          "pr, nightly: the farm dashboard's base URL (the GitHub Pages site farm-nightly publishes); each cell links to its page. Empty: no links.",
        default: "",
      },
      "out-dir": outDir,
    },
    outputs: {
      "comment-url": {
        description: "pr: the sticky comment's URL (empty when a newer push made this run stale).",
      },
      "check-run-url": { description: "pr: the check run's URL." },
      issues: {
        description:
          "nightly: JSON list of {cell, metric, kind, state, action, number} per issue synced; upstream: {kind, key, state, action, number}.",
      },
    },
  },
  release: {
    name: "pte-farm release",
    description:
      "Publish gated, benchmarked .pte files as a GitHub release. prepare: refuse unless every planned cell passed " +
      "its gate on its device with the build's exact bytes, then stage each .pte (split into parts at the per-asset " +
      "limit), manifest.json, SHA256SUMS and the release notes; publish: upload to a draft release, verify every " +
      "asset's size and sha256, and only then publish it.",
    inputs: {
      mode: { description: "prepare (before the attestation step) | publish (after it).", required: true },
      "github-token": {
        description: "publish: token for the GitHub API with contents: write.",
        default: "",
      },
      tag: {
        description: "The release's tag; empty: the tag GITHUB_REF names (the workflow must run on a tag).",
        default: "",
      },
      artifacts: {
        description:
          "prepare: the folder the run's artefacts were downloaded into, one subfolder each (download-artifact " +
          `without merge-multiple): build-<build>/ from the builds, and the device jobs' results (${WORKSPACE_NOTE}).`,
        default: "",
      },
      devices: {
        description:
          "prepare: the plan's devices output (JSON {include: [...]}): the cells the release must contain; a " +
          "planned cell with no passing record blocks the release.",
        default: "",
      },
      staging: {
        description: `Where prepare writes the release's files and publish reads them (${WORKSPACE_NOTE}).`,
        default: "out/release",
      },
      "part-limit": {
        description:
          "Files of this many bytes or more are uploaded as parts below it (GitHub's per-asset limit is 2 GiB).",
        default: "2147483648",
      },
      publish: {
        description:
          "publish: true publishes the verified draft; false leaves it a draft for a person to publish.",
        default: "true",
      },
    },
    outputs: {
      checksums: {
        description:
          "prepare: a sha256sum-format file naming every asset and every whole .pte (also those uploaded as " +
          "parts), for the attestation step's subject-checksums.",
      },
      cells: { description: "prepare: how many cells the release holds." },
      "release-url": { description: "publish: the release's page." },
      "release-id": { description: "publish: the release's id." },
    },
  },
} as const satisfies Record<string, ActionSpec>;

export type ActionName = keyof typeof ACTIONS;
export type InputName<A extends ActionName> = keyof (typeof ACTIONS)[A]["inputs"] & string;
export type OutputName<A extends ActionName> = keyof (typeof ACTIONS)[A]["outputs"] & string;

export const ACTION_NAMES = Object.keys(ACTIONS) as ActionName[];
