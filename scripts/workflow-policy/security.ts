/**
 * The security rules: triggers, permissions, pinned actions, checkout credentials, fork approval,
 * workflow_run hygiene, zizmor suppressions, write tokens on hosted runners, attested releases.
 * policy.ts lists what each one enforces.
 */
import {
  asObj,
  calledWorkflow,
  checkoutSteps,
  code,
  expressions,
  hostedByConstruction,
  isObj,
  jobs,
  type Obj,
  type PolicyFinding,
  type Rule,
  steps,
  triggers,
  type WorkflowFile,
  writes,
} from "./workflow.ts";

export const noPullRequestTarget: Rule = (all) =>
  [...all.values()]
    .filter((wf) => triggers(wf).has("pull_request_target") || /\bpull_request_target\b/.test(code(wf.text)))
    .map((wf) => ({
      rule: "no-pull-request-target",
      file: wf.name,
      message:
        "uses pull_request_target, which runs PR code with a write token; use pull_request + workflow_run",
    }));

export const topPermissions: Rule = (all) =>
  [...all.values()].flatMap((wf) => {
    if (!("permissions" in wf.doc)) {
      return [
        {
          rule: "top-permissions",
          file: wf.name,
          message: "no top-level permissions; set `permissions: {}`",
        },
      ];
    }
    return writes(wf.doc.permissions).map((w) => ({
      rule: "top-permissions",
      file: wf.name,
      message: `top-level ${w}; keep the top at {} or read-only and raise permissions per job`,
    }));
  });

/** Every `uses:` value with the line it is on. */
function usesLines(wf: WorkflowFile): { value: string; line: number; comment: string | null }[] {
  const out: { value: string; line: number; comment: string | null }[] = [];
  wf.text.split("\n").forEach((text, i) => {
    const m = /^\s*(?:-\s+)?uses:\s*["']?([^\s"'#]+)["']?\s*(?:#\s*(.*))?$/.exec(text);
    if (m !== null) out.push({ value: m[1] as string, line: i + 1, comment: m[2]?.trim() ?? null });
  });
  return out;
}

export const pinnedUses: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    usesLines(wf).flatMap(({ value, line, comment }): PolicyFinding[] => {
      if (value.startsWith("./")) return [];
      const where = `${wf.name}:${line}`;
      if (value.startsWith("docker://")) {
        return /@sha256:[0-9a-f]{64}$/.test(value)
          ? []
          : [{ rule: "pinned-uses", file: wf.name, message: `${where}: ${value} is not pinned by digest` }];
      }
      const ref = value.split("@")[1] ?? "";
      if (!/^[0-9a-f]{40}$/.test(ref)) {
        return [
          {
            rule: "pinned-uses",
            file: wf.name,
            message: `${where}: ${value} is not pinned by a 40-hex commit SHA`,
          },
        ];
      }
      if (comment === null || !/^v\d+\.\d+\.\d+$/.test(comment)) {
        return [
          {
            rule: "pinned-uses",
            file: wf.name,
            message: `${where}: ${value} needs a "# vX.Y.Z" comment naming its tag`,
          },
        ];
      }
      return [];
    }),
  );

export const checkoutCredentials: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf).flatMap(([id, job]) =>
      checkoutSteps(job)
        .filter((s) => asObj(s.with)["persist-credentials"] !== false)
        .map(() => ({
          rule: "checkout-credentials",
          file: wf.name,
          message: `job ${id}: actions/checkout without persist-credentials: false leaves the token in .git/config`,
        })),
    ),
  );

/**
 * A job of only `run:` steps, with no checkout and no action: the one kind of pull-request job that
 * may hold `actions: write`, to cancel its own run (the no-capacity watchdog's cancel-queued).
 * Its script is still the PR's copy of the file, but a same-repository PR's author can write to the
 * repository anyway, and a fork's run gets a read-only token whatever the file asks for.
 */
function runsNoRepositoryCode(job: Obj): boolean {
  const all = steps(job);
  return job.uses === undefined && all.length > 0 && all.every((s) => s.uses === undefined);
}

export const prReadOnly: Rule = (all, effective) =>
  [...all.values()]
    .filter((wf) => effective.get(wf.name)?.has("pull_request"))
    .flatMap((wf) => {
      const found: PolicyFinding[] = [];
      const add = (message: string) => found.push({ rule: "pr-read-only", file: wf.name, message });
      for (const [id, job] of jobs(wf)) {
        for (const w of writes(job.permissions))
          if (!(w === "actions: write" && runsNoRepositoryCode(job))) add(`job ${id} runs PR code with ${w}`);
        if (job.secrets !== undefined) add(`job ${id} passes secrets to a workflow that runs PR code`);
      }
      if (expressions(wf.text).some((e) => /\bsecrets\b/.test(e)))
        add("references a secret; PR code must never see one");
      return found;
    });

export const forkApproval: Rule = (all, effective) =>
  [...all.values()]
    .filter((wf) => effective.get(wf.name)?.has("pull_request"))
    .flatMap((wf) =>
      jobs(wf).flatMap(([id, job]): PolicyFinding[] => {
        if (calledWorkflow(job) !== null || job["runs-on"] === undefined) return [];
        if (hostedByConstruction(job["runs-on"])) return [];
        const problems: string[] = [];
        const env = isObj(job.environment) ? job.environment.name : job.environment;
        if (
          typeof env !== "string" ||
          !env.includes("'farm-hardware-fork'") ||
          !/github\.event\.pull_request\.head\.repo\.(full_name|fork)/.test(env)
        ) {
          problems.push(
            "may run on a self-hosted runner but does not use the farm-hardware-fork environment for fork PRs",
          );
        }
        const all = steps(job);
        const first = all.findIndex(
          (s) =>
            typeof s.uses === "string" &&
            s.uses.startsWith("actions/checkout@") &&
            asObj(s.with).path === undefined,
        );
        const ref = first < 0 ? undefined : asObj(all[first]?.with).ref;
        if (typeof ref !== "string" || !ref.includes("github.event.pull_request.head.sha")) {
          problems.push("does not check out github.event.pull_request.head.sha (the approved commit)");
        }
        const next = all
          .slice(first + 1)
          .find((s) => s.run !== undefined || String(s.uses ?? "").startsWith("./"));
        if (next === undefined || typeof next.run !== "string" || !/git rev-parse HEAD/.test(next.run)) {
          problems.push("runs something before verifying that HEAD is the approved SHA");
        }
        return problems.map((p) => ({ rule: "fork-approval", file: wf.name, message: `job ${id} ${p}` }));
      }),
    );

export const workflowRunTrusted: Rule = (all, effective) =>
  [...all.values()]
    .filter((wf) => effective.get(wf.name)?.has("workflow_run"))
    .flatMap((wf) =>
      jobs(wf).flatMap(([id, job]) => {
        const found: PolicyFinding[] = [];
        const add = (message: string) =>
          found.push({ rule: "workflow-run-trusted", file: wf.name, message: `job ${id} ${message}` });
        if (calledWorkflow(job) !== null) add("calls another workflow; keep workflow_run jobs in one file");
        for (const s of steps(job)) {
          if (s.run !== undefined) add("has a run: step; a workflow_run job only runs trusted actions");
          const uses = String(s.uses ?? "");
          const w = asObj(s.with);
          if (uses.startsWith("actions/checkout@")) {
            if (w.ref !== undefined || w.repository !== undefined) {
              add("checks out a ref or repository; check out only this workflow's own commit");
            }
            if (w["allow-unsafe-pr-checkout"] !== undefined) add("sets allow-unsafe-pr-checkout");
          }
          if (uses.startsWith("actions/download-artifact@")) {
            const target = typeof w.path === "string" ? w.path.trim() : "";
            if (!/^\$\{\{\s*runner\.temp\s*\}\}\/[\w./-]+$/.test(target) || target.includes("..")) {
              add(
                `downloads an artefact to ${target || "the workspace"}; download under \${{ runner.temp }}, outside the checkout`,
              );
            }
          }
          if (uses.startsWith("./") && !/^\.\/actions\/[a-z0-9-]+$/.test(uses)) {
            add(`uses local action ${uses}; only ./actions/<name> from the trusted checkout`);
          }
        }
        return found;
      }),
    );

export const zizmorIgnores: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    wf.text.split("\n").flatMap((text, i) => {
      const m = /zizmor:\s*ignore\[([^\]]*)\]/.exec(text);
      if (m === null) return [];
      if (m[1]?.trim() === "dangerous-triggers" && /^\s*workflow_run:/.test(text)) return [];
      return [
        {
          rule: "zizmor-ignores",
          file: wf.name,
          message: `${wf.name}:${i + 1}: zizmor ignore[${m[1]}] is not allowed; fix the finding instead`,
        },
      ];
    }),
  );

export const writesHosted: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf)
      .filter(([, job]) => calledWorkflow(job) === null && writes(job.permissions).length > 0)
      .filter(([, job]) => !hostedByConstruction(job["runs-on"]))
      .map(([id, job]) => ({
        rule: "writes-hosted",
        file: wf.name,
        message:
          `job ${id} holds ${writes(job.permissions).join(", ")} but may run on a self-hosted runner; ` +
          "jobs that write run on GitHub-hosted runners (boards hold no write token)",
      })),
  );

export const releaseAttested: Rule = (all) =>
  [...all.values()].flatMap((wf) =>
    jobs(wf).flatMap(([id, job]) => {
      const list = steps(job);
      const publish = list.findIndex(
        (st) => st.uses === "./actions/release" && asObj(st.with).mode === "publish",
      );
      if (publish < 0) return [];
      const attest = list.findIndex(
        (st) => typeof st.uses === "string" && st.uses.startsWith("actions/attest-build-provenance@"),
      );
      if (attest >= 0 && attest < publish) return [];
      return [
        {
          rule: "release-attested",
          file: wf.name,
          message: `job ${id} publishes a release without an actions/attest-build-provenance step before it`,
        },
      ];
    }),
  );
