/**
 * The bisect record (`pte-farm/bisect@1`, JSON) and its markdown report: the answer (package,
 * last good and first bad release), the evidence, every step, and one command that reproduces
 * the first bad step.
 */
import { arr, type Infer, literal, nonNegInt, nullable, num, obj, str } from "../core/validate.ts";

const lockRef = obj({ id: str, toolchain: str, versions: str });

export const bisectStep = obj({
  package: str,
  version: str,
  lock: str,
  verdict: literal("good", "bad", "skip", "retry"),
  reason: str,
  attempts: nonNegInt,
  /** Whether the step's environment was built for it (false: cached, or it never got that far). */
  built: literal(true, false),
  /** Companions that had to move with the package ("tokenizers 0.23.3 → 0.22.1"). */
  companions: arr(str),
  seconds: num,
});
export type BisectStep = Infer<typeof bisectStep>;

export const bisectRecord = obj({
  schema: literal("pte-farm/bisect@1"),
  subject: str,
  metric: nullable(str),
  good: lockRef,
  bad: lockRef,
  changed: arr(str),
  verdict: literal("found", "interaction", "inconclusive-infrastructure"),
  package: nullable(str),
  last_good: nullable(str),
  first_bad: nullable(str),
  /** Releases between last_good and first_bad that could not be tested: the first bad is one of them or first_bad. */
  untestable: arr(str),
  evidence: obj({ stage: nullable(str), signature: nullable(str), detail: str }),
  /** Environments built for the moving package (the endpoints included), against ⌈log2 N⌉ + 2. */
  builds: nonNegInt,
  released_between: nonNegInt,
  steps: arr(bisectStep),
  reproduce: str,
  started_at: str,
  finished_at: str,
  wall_s: num,
});
export type BisectRecord = Infer<typeof bisectRecord>;

function answer(r: BisectRecord): string {
  switch (r.verdict) {
    case "found": {
      const also =
        r.untestable.length === 0 ? "" : ` (or one of ${r.untestable.join(", ")}, which could not be tested)`;
      return `**${r.package} ${r.first_bad}** first breaks it${also}; last good: ${r.package} ${r.last_good}.`;
    }
    case "interaction":
      return `No single package breaks it alone: it needs several of ${r.changed.join(", ")} moved together.`;
    case "inconclusive-infrastructure":
      return `**Inconclusive: infrastructure.** Too many steps failed for reasons outside the toolchain: ${r.evidence.detail}`;
  }
}

export function renderBisectMarkdown(r: BisectRecord): string {
  const rows = r.steps.map(
    (s, i) =>
      `| ${i + 1} | ${s.package} ${s.version} | \`${s.lock}\` | ${s.verdict} | ${s.attempts} | ${s.built ? "built" : "cached"} | ${s.seconds.toFixed(0)} s | ${s.reason.replaceAll("|", "\\|").replaceAll("\n", " ")}${s.companions.length === 0 ? "" : ` (moved with it: ${s.companions.join(", ")})`} |`,
  );
  return [
    `## Bisection: ${r.subject}${r.metric === null ? "" : ` (${r.metric})`}`,
    "",
    answer(r),
    "",
    `- good: lock \`${r.good.id}\` (${r.good.toolchain}: ${r.good.versions})`,
    `- bad: lock \`${r.bad.id}\` (${r.bad.toolchain}: ${r.bad.versions})`,
    `- changed between them: ${r.changed.join(", ") || "nothing"}`,
    `- evidence on the bad side: ${r.evidence.stage ?? "?"} — ${r.evidence.signature ?? "?"}: ${r.evidence.detail.split("\n")[0]}`,
    `- ${r.builds} environment build(s) of the moving package over ${r.released_between + 2} release(s); ${r.wall_s.toFixed(0)} s in all`,
    "",
    "| # | package | lock | verdict | attempts | env | time | why |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "Reproduce the first bad step:",
    "",
    "```sh",
    r.reproduce,
    "```",
    "",
  ].join("\n");
}
