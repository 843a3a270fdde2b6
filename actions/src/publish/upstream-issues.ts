/**
 * farm-upstream's issues, with the nightly issues' lifecycle (github/issues.ts): one issue per
 * (package, first bad release) a bisection named, found again by its marker, updated while the
 * breakage lasts and closed when the cells it lists pass again on a later channel run (a later
 * release fixed it); and one issue per known issue whose canary says it is possibly fixed upstream
 * (or reproduces outside its catalogued range), carrying the proposed catalogue diff, closed when the
 * canary agrees with the catalogue again.
 */
import type { BisectRecord } from "../bisect/record.ts";
import { renderBisectMarkdown } from "../bisect/record.ts";
import type { CanaryResult } from "../canaries/verdicts.ts";
import type { Logger } from "../core/logger.ts";
import type { GitHub } from "../github/client.ts";
import { listIssuesWithMarker, type SyncResult, syncRegressionIssue } from "../github/issues.ts";
import type { RunRecord } from "../schemas/run-record.ts";

export const UPSTREAM_LABELS = ["pte-farm", "upstream"] as const;
const BREAKAGE = "<!-- pte-farm:upstream ";
const CANARY = "<!-- pte-farm:canary ";
const CELLS = /<!-- pte-farm:cells ([^>]*) -->/;

export interface CanaryProposalInput {
  knownIssue: string;
  diff: string;
}

export interface UpstreamInputs {
  owner: string;
  repo: string;
  /** Tonight's bisections (bisect.json records). */
  bisects: BisectRecord[];
  canaries: { results: CanaryResult[]; proposals: CanaryProposalInput[] } | null;
  /** Tonight's run records of the channel's cells. */
  records: RunRecord[];
  runUrl: string | null;
  logger: Logger;
  settleMs?: number;
}

export interface UpstreamIssue {
  kind: "breakage" | "canary";
  key: string;
  state: "open" | "resolved";
  action: SyncResult["action"];
  number: number | null;
}

function breakageMarker(pkg: string, version: string): string {
  return `${BREAKAGE}${pkg}==${version} -->`;
}

export async function syncUpstreamIssues(gh: GitHub, o: UpstreamInputs): Promise<UpstreamIssue[]> {
  const out: UpstreamIssue[] = [];
  const common = {
    owner: o.owner,
    repo: o.repo,
    labels: UPSTREAM_LABELS,
    logger: o.logger,
    ...(o.settleMs === undefined ? {} : { settleMs: o.settleMs }),
  };
  const run = o.runUrl === null ? "" : ` ([run](${o.runUrl}))`;

  // One issue per (package, first bad release), listing every cell the bisections traced to it.
  const groups = new Map<string, BisectRecord[]>();
  for (const b of o.bisects) {
    if (b.verdict !== "found" || b.package === null || b.first_bad === null) continue;
    const key = `${b.package}==${b.first_bad}`;
    groups.set(key, [...(groups.get(key) ?? []), b]);
  }
  const synced = new Set<string>();
  for (const [key, list] of groups) {
    const first = list[0] as BisectRecord;
    const cells = list.map((b) => b.subject.replace(/^cell /, ""));
    const marker = breakageMarker(first.package as string, first.first_bad as string);
    const body = [
      `**${first.package} ${first.first_bad}** breaks ${cells.length === 1 ? "a cell" : `${cells.length} cells`} of the farm (last good: ${first.package} ${first.last_good})${run}.`,
      "",
      ...list.map((b) => renderBisectMarkdown(b)),
      `<!-- pte-farm:cells ${cells.join(",")} -->`,
    ].join("\n");
    const title = `${first.package} ${first.first_bad} breaks ${cells[0]}${cells.length > 1 ? ` and ${cells.length - 1} more` : ""} (${first.evidence.stage ?? "?"})`;
    const r = await syncRegressionIssue(gh, { ...common, marker, title, body, state: "regressed" });
    synced.add(marker);
    out.push({ kind: "breakage", key, state: "open", action: r.action, number: r.number ?? null });
  }

  // Open breakage issues not re-found tonight: closed when every cell they list passes tonight.
  const status = new Map(o.records.map((r) => [r.cell.id, r]));
  for (const issue of await listIssuesWithMarker(gh, {
    owner: o.owner,
    repo: o.repo,
    marker: BREAKAGE,
    labels: [...UPSTREAM_LABELS],
  })) {
    const marker = (issue.body ?? "").match(/<!-- pte-farm:upstream [^>]* -->/)?.[0];
    const cells = (issue.body ?? "").match(CELLS)?.[1]?.split(",").filter(Boolean) ?? [];
    if (marker === undefined || synced.has(marker) || cells.length === 0) continue;
    const now = cells.map((c) => status.get(c));
    if (!now.every((r) => r?.status === "pass")) continue;
    const versions = now[0]?.toolchain.build ?? {};
    const pkg = marker.slice(BREAKAGE.length).split("==")[0] ?? "";
    const fixedWith =
      versions[pkg] === undefined || versions[pkg] === null ? "tonight's channel" : `${pkg} ${versions[pkg]}`;
    const r = await syncRegressionIssue(gh, {
      ...common,
      marker,
      title: issue.title,
      body: "",
      state: "recovered",
      note: `Every cell this issue lists passes again with ${fixedWith}${run}: fixed upstream. Closing.`,
    });
    out.push({
      kind: "breakage",
      key: marker.slice(BREAKAGE.length, -4),
      state: "resolved",
      action: r.action,
      number: r.number ?? null,
    });
  }

  // One issue per known issue whose canary disagrees with the catalogue.
  const byIssue = new Map<string, CanaryResult[]>();
  for (const r of o.canaries?.results ?? [])
    byIssue.set(r.knownIssue, [...(byIssue.get(r.knownIssue) ?? []), r]);
  for (const [id, results] of byIssue) {
    const marker = `${CANARY}${id} -->`;
    const odd = results.filter(
      (r) =>
        r.state === "no-longer-reproduces" ||
        r.state === "reproduces-outside-range" ||
        r.state === "fails-differently",
    );
    if (results.some((r) => r.state === "infrastructure") && odd.length === 0) continue;
    if (odd.length === 0) {
      const r = await syncRegressionIssue(gh, {
        ...common,
        marker,
        title: `Known issue ${id}`,
        body: "",
        state: "recovered",
        note: `The canary for ${id} agrees with the catalogue again on every toolchain${run}. Closing.`,
      });
      if (r.action !== "none")
        out.push({ kind: "canary", key: id, state: "resolved", action: r.action, number: r.number ?? null });
      continue;
    }
    const fixed = odd.find((r) => r.state === "no-longer-reproduces");
    const title =
      fixed !== undefined
        ? `Known issue ${id} possibly fixed upstream (${
            Object.entries(fixed.versions)
              .map(([p, v]) => `${p} ${v}`)
              .join(", ") || fixed.toolchain
          })`
        : odd[0]?.state === "reproduces-outside-range"
          ? `Known issue ${id} reproduces outside its catalogued range`
          : `The canary for known issue ${id} fails differently`;
    const diff = o.canaries?.proposals.find((p) => p.knownIssue === id)?.diff ?? "";
    const body = [
      `The canary for known issue \`${id}\` (matrix/known-issues.yml)${run}:`,
      "",
      "| cell | state | what it means |",
      "|---|---|---|",
      ...results.map((r) => `| \`${r.cell}\` | ${r.state} | ${r.summary.replaceAll("|", "\\|")} |`),
      "",
      ...(diff === "" ? [] : ["Proposed catalogue change:", "", "```diff", diff.trimEnd(), "```", ""]),
    ].join("\n");
    const r = await syncRegressionIssue(gh, { ...common, marker, title, body, state: "regressed" });
    out.push({ kind: "canary", key: id, state: "open", action: r.action, number: r.number ?? null });
  }
  return out;
}
