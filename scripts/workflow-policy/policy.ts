/**
 * The farm's own rules for its workflows, on top of actionlint (syntax, expressions) and zizmor
 * (known-insecure patterns). These encode the security model in DESIGN.md, so that a change that
 * breaks it fails CI with the rule's name:
 *
 * - no-pull-request-target: the trigger that runs PR code with a write token is used nowhere;
 * - top-permissions: every workflow's top level is `permissions: {}` or read-only;
 * - pinned-uses: every non-local action is pinned by a 40-hex commit SHA with a `# vX.Y.Z` comment;
 * - checkout-credentials: every actions/checkout sets `persist-credentials: false`;
 * - pr-read-only: a workflow that runs for `pull_request` (itself or through a workflow that calls
 *   it) has no write permission and references no secret;
 * - fork-approval: in such a workflow, a job that may run on a self-hosted runner uses the
 *   `farm-hardware-fork` environment for fork PRs, checks out the PR's head SHA, and verifies it
 *   before running anything from it;
 * - workflow-run-trusted: a `workflow_run` workflow has no `run:` step, checks out only its own
 *   commit (no `ref`, no `repository`, never `allow-unsafe-pr-checkout`), uses local actions only
 *   from `./actions/`, and downloads artefacts under `runner.temp`, outside the checkout, so an
 *   artefact cannot replace the trusted code it is about to run;
 * - reusable-permissions: a job calling a local reusable workflow grants every scope its jobs ask for;
 * - reusable-inputs: a call of a local reusable workflow passes only inputs it declares, and all
 *   its required ones (the wasm actionlint cannot open the called file to check this);
 * - local-action-io: a step's `uses: ./actions/<name>` names an action folder with an action.yml,
 *   passes only inputs it declares and all its required ones, and every
 *   `steps.<id>.outputs.<name>` of such a step in the same job is an output it declares (the wasm
 *   actionlint cannot open action.yml files to check this); a local action elsewhere is refused;
 * - writes-hosted: a job that holds any write permission (a release, attestations, the history
 *   branch, issues) runs on a GitHub-hosted runner by construction, never on a self-hosted board;
 * - release-attested: a job that publishes a release (`uses: ./actions/release` in mode publish)
 *   first attests build provenance (actions/attest-build-provenance) for what it publishes;
 * - run-expressions: no `${{ … }}` in a `run:` script; values reach scripts through `env:`;
 * - job-permissions: each job holds only the scopes its allow-list (hygiene.ts) names;
 * - artifact-retention: every artefact upload sets `retention-days`, 1–14;
 * - comment-concurrency: a workflow_run workflow (it writes the PR comment) has a concurrency
 *   group keyed by the pull request's branch and never cancels a report in progress;
 * - zizmor-ignores: the only zizmor suppression allowed is `dangerous-triggers` on a
 *   `workflow_run:` line (the trigger is the design; workflow-run-trusted checks how it is used).
 *
 * Pure: workflows and action interfaces in, findings out. scripts/lint-workflows.ts reads the files.
 */
import type { LocalAction } from "../local-actions.ts";
import { artifactRetention, commentConcurrency, jobPermissions, runExpressions } from "./hygiene.ts";
import { localActionIO, reusableInputs, reusablePermissions } from "./interfaces.ts";
import {
  checkoutCredentials,
  forkApproval,
  noPullRequestTarget,
  pinnedUses,
  prReadOnly,
  releaseAttested,
  topPermissions,
  workflowRunTrusted,
  writesHosted,
  zizmorIgnores,
} from "./security.ts";
import {
  effectiveTriggers,
  type LocalActions,
  type PolicyFinding,
  type Rule,
  type WorkflowFile,
} from "./workflow.ts";

export const RULES: Record<string, Rule> = {
  "no-pull-request-target": noPullRequestTarget,
  "top-permissions": topPermissions,
  "pinned-uses": pinnedUses,
  "checkout-credentials": checkoutCredentials,
  "pr-read-only": prReadOnly,
  "fork-approval": forkApproval,
  "workflow-run-trusted": workflowRunTrusted,
  "reusable-inputs": reusableInputs,
  "reusable-permissions": reusablePermissions,
  "local-action-io": localActionIO,
  "writes-hosted": writesHosted,
  "release-attested": releaseAttested,
  "zizmor-ignores": zizmorIgnores,
  "run-expressions": runExpressions,
  "job-permissions": jobPermissions,
  "artifact-retention": artifactRetention,
  "comment-concurrency": commentConcurrency,
};

export interface PolicyOptions {
  /** Run this rule only. */
  only?: string;
}

/**
 * Every rule on a set of workflows (keyed by file name; reusable workflows are followed by name),
 * with the local actions' interfaces as their action.yml files declare them.
 */
export function checkPolicy(
  workflows: readonly WorkflowFile[],
  actions: readonly LocalAction[],
  options: PolicyOptions = {},
): PolicyFinding[] {
  const all = new Map(workflows.map((w) => [w.name, w]));
  const effective = effectiveTriggers(all);
  const local: LocalActions = {
    declared: new Map(actions.map((a) => [a.name, a])),
  };
  return Object.entries(RULES)
    .filter(([name]) => options.only === undefined || name === options.only)
    .flatMap(([, rule]) => rule(all, effective, local));
}
