/**
 * `pte-farm fetch <tag> <cell>`: one cell's `.pte` from a farm release, verified (release/fetch.ts).
 * The repository comes from --repo or GITHUB_REPOSITORY, the token (optional for a public
 * repository) from GITHUB_TOKEN or GH_TOKEN, the API root from GITHUB_API_URL.
 */
import { parseArgs } from "node:util";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { createGitHub } from "../github/client.ts";
import { fetchRelease } from "../release/fetch.ts";
import { usageErrors } from "./args.ts";

export const FETCH_USAGE = `pte-farm fetch TAG CELL [options]
  TAG               the release's tag, e.g. v0.3.0
  CELL              a cell id of the release, or a glob matching exactly one
                    (e.g. 'tiny-llama/8da4w-g32/xnnpack/pi5@stable', '*/*/*/pi5@*')
  --repo OWNER/NAME the repository (default: $GITHUB_REPOSITORY)
  --out DIR         where the verified .pte and its <slug>.manifest.json go (default: .)
  --draft           also fetch from a draft release (needs a token that can write the repository)
  downloads SHA256SUMS, manifest.json and the cell's file or its parts; verifies manifest.json
  against SHA256SUMS, every part and the reassembled file against the manifest; keeps nothing that
  does not verify (exit 3: "do not use this file"). Token: $GITHUB_TOKEN or $GH_TOKEN, if set.
  Provenance: gh attestation verify FILE --repo OWNER/NAME`;

export async function fetchCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values, positionals } = usageErrors("fetch", () => parse(argv));
  if (values.help) {
    logger.info(FETCH_USAGE);
    return EXIT.ok;
  }
  const [tag, cell, ...extra] = positionals;
  if (tag === undefined || cell === undefined || extra.length > 0) {
    throw new ConfigurationError(`fetch takes a tag and a cell\n\n${FETCH_USAGE}`);
  }
  const full = values.repo ?? process.env.GITHUB_REPOSITORY ?? "";
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(full);
  if (m === null) {
    throw new ConfigurationError(
      full === ""
        ? "fetch needs the repository: --repo OWNER/NAME (or GITHUB_REPOSITORY)"
        : `--repo ${JSON.stringify(full)} is not OWNER/NAME`,
    );
  }
  const [, owner = "", repo = ""] = m;
  const gh = createGitHub({
    token: process.env.GITHUB_TOKEN || process.env.GH_TOKEN || "",
    baseUrl: process.env.GITHUB_API_URL || "https://api.github.com",
    logger,
  });
  const got = await fetchRelease({
    gh,
    owner,
    repo,
    tag,
    cell,
    out: values.out ?? ".",
    allowDraft: values.draft === true,
    logger,
  });
  const f = got.entry.file;
  logger.info(
    `verified ${got.entry.cell.id} from ${owner}/${repo} ${tag}: ${got.pte} ` +
      `(${f.bytes} bytes, sha256 ${f.sha256}${f.parts === null ? "" : `, reassembled from ${f.parts.length} parts`}); ` +
      `its manifest entry: ${got.manifest}`,
  );
  return EXIT.ok;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      repo: { type: "string" },
      out: { type: "string" },
      draft: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
