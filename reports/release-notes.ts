/**
 * The body of a GitHub release: one table row per published `.pte` (cell, file, short sha256, gate,
 * decode speed with its 95% interval, share of the roofline bound), the toolchain, and how to fetch
 * and verify a file. Everything in it comes from the release manifest; names are escaped although
 * the manifest's own rules already keep cell names to `[A-Za-z0-9._-]`, because the notes must stay
 * safe whoever wrote the manifest.
 *
 * GitHub refuses a release body over 125,000 characters. A farm of a few hundred cells fits
 * easily; past that, rows are dropped from the end and the notes point at manifest.json, which
 * always holds every cell.
 */
import type { ReleaseCell, ReleaseManifest } from "../actions/src/schemas/release-manifest.ts";
import { cleanText, codeBlock, codeSpan, escapeInline, link, shortSha } from "./escape.ts";
import { fitCount, githubSize } from "./size.ts";

/** GitHub's limit on a release body ("body is too long (maximum is 125000 characters)"). */
export const RELEASE_BODY_LIMIT = 125_000;
/** What the notes may use, in githubSize units: the limit less a margin. */
export const RELEASE_BODY_BUDGET = 124_000;

const DECODE = "decode_tokens_per_sec";

/** 1.2 MiB, 4.66 GiB: binary units, the ones GitHub's 2 GiB asset limit is stated in. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

function figure(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function gateText(c: ReleaseCell): string {
  const g = c.gate;
  if (g.verdict !== "pass") return "fail";
  if (g.outputs !== undefined) return `pass (INT8 outputs within ${g.outputs.bound_q} q)`;
  return `pass (bit-exact ${g.policy.reference})`;
}

function decodeText(c: ReleaseCell): string {
  const d = c.bench[DECODE];
  if (d === undefined || d.median === null) return "—";
  const [lo, hi] = d.ci ?? [];
  const ci = lo === undefined || hi === undefined ? `[no CI: n=${d.n}]` : `[${figure(lo)}, ${figure(hi)}]`;
  return `${figure(d.median)} ${ci}`;
}

function rooflineText(c: ReleaseCell): string {
  const f = c.roofline?.fraction;
  return f === null || f === undefined ? "—" : `${(f * 100).toFixed(0)}%`;
}

function row(c: ReleaseCell): string {
  const parts = c.file.parts === null ? "" : `, ${c.file.parts.length} parts`;
  const cells = [
    codeSpan(c.cell.id, { table: true }),
    `${codeSpan(c.file.name, { table: true })} (${formatBytes(c.file.bytes)}${parts})`,
    `\`${c.file.sha256.slice(0, 12)}\``,
    escapeInline(gateText(c)),
    escapeInline(decodeText(c)),
    escapeInline(rooflineText(c)),
  ];
  return `| ${cells.join(" | ")} |`;
}

/** One line per distinct build toolchain: its name and exact versions. */
function toolchainLines(cells: readonly ReleaseCell[]): string[] {
  const seen = new Map<string, string>();
  for (const c of cells) {
    const versions = Object.entries(c.toolchain.build)
      .filter((e): e is [string, string] => e[1] !== null)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([pkg, v]) => `${pkg} ${v}`)
      .join(", ");
    const key = `${c.toolchain.name}\u0000${versions}`;
    if (!seen.has(key)) {
      seen.set(key, `- ${codeSpan(c.toolchain.name)}: ${escapeInline(versions, 1000)}`);
    }
  }
  return [...seen.values()];
}

/** A word for a copy-pasted shell command: as is when plainly safe, else single-quoted. */
export function shellArg(word: string): string {
  const w = cleanText(word, { keepNewlines: false });
  return /^[A-Za-z0-9._/@:+=-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`;
}

function assetUrl(m: ReleaseManifest, asset: string): string {
  return `https://github.com/${m.repository}/releases/download/${encodeURIComponent(m.tag)}/${encodeURIComponent(asset)}`;
}

/** The release body for `manifest`, within {@link RELEASE_BODY_BUDGET}. */
export function renderReleaseNotes(m: ReleaseManifest, budget = RELEASE_BODY_BUDGET): string {
  const manifestLink = link("manifest.json", assetUrl(m, "manifest.json"));
  const run =
    m.workflow_run === null ? "" : ` · ${link(`workflow run ${m.workflow_run.id}`, m.workflow_run.url)}`;
  const head = [
    `## pte-farm release ${codeSpan(m.tag)}`,
    "",
    `Commit ${shortSha(m.git_sha)} · ${m.cells.length} cell${m.cells.length === 1 ? "" : "s"}${run}. Every file passed its gate and was benchmarked on the board it is published for; ${manifestLink} has the exact toolchain, gate result and bench figures of each.`,
    "",
  ];
  const tableHead = [
    "| cell | file | sha256 | gate | decode tok/s median [95% CI] | % of roofline |",
    "|---|---|---|---|---|---|",
  ];
  const example = m.cells[0];
  const exampleFile = example === undefined ? "FILE" : example.file.name;
  const how = [
    "",
    "### Fetch and verify",
    "",
    codeBlock(
      [
        `pte-farm fetch ${shellArg(m.tag)} ${shellArg(example?.cell.id ?? "CELL")}   # downloads, checks SHA256SUMS and the manifest, reassembles parts`,
        `gh attestation verify ${shellArg(exampleFile)} -R ${shellArg(m.repository)}`,
        "sha256sum -c SHA256SUMS --ignore-missing   # in a folder of downloaded assets",
      ].join("\n"),
      "sh",
    ),
    "",
    `Files of ${formatBytes(m.part_limit_bytes)} or more are published as parts (\`<file>.part-1-of-N\`, …); \`pte-farm fetch\` joins them and checks every part and the whole against the manifest.`,
    "",
  ];
  const toolchain = ["", "### Toolchain (build)", "", ...toolchainLines(m.cells)];

  const rows = m.cells.map(row);
  const more = (shown: number) =>
    `\n${m.cells.length - shown} more cell${m.cells.length - shown === 1 ? "" : "s"} than fit here: every cell is in ${manifestLink}.`;
  const render = (shown: number, toolchainShown: number) =>
    [
      ...head,
      ...(shown > 0 ? [...tableHead, ...rows.slice(0, shown)] : []),
      ...(shown < rows.length ? [more(shown)] : []),
      ...toolchain.slice(0, toolchainShown),
      ...how,
    ].join("\n");
  // A first guess from the sizes, then exact: drop rows, then toolchain lines, until the body fits.
  const spare = budget - githubSize(render(0, toolchain.length));
  let shown = Math.min(rows.length, fitCount(rows, spare - githubSize(tableHead.join("\n")) - 4));
  let toolchainShown = toolchain.length;
  let body = render(shown, toolchainShown);
  while (githubSize(body) > budget && (shown > 0 || toolchainShown > 0)) {
    if (shown > 0) shown--;
    else toolchainShown--;
    body = render(shown, toolchainShown);
  }
  return body;
}
