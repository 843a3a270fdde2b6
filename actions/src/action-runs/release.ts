/**
 * The release action, in farm-release's release job: `prepare` before the attestation step (gate
 * every planned cell, stage the files), `publish` after it (draft, upload, verify, publish). Two
 * modes of one action rather than one step, so the attestation covers exactly the files that
 * prepare staged and publish then uploads: publish refuses a staging folder that changed.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ConfigurationError, EXIT } from "../core/errors.ts";
import { sha256File } from "../core/hashing.ts";
import { arr, obj, open, parse, str } from "../core/validate.ts";
import { createGitHub } from "../github/client.ts";
import { GITHUB_ASSET_LIMIT } from "../github/release-assets.ts";
import { prepareRelease } from "../release/assemble.ts";
import { ReleaseBlockedError } from "../release/errors.ts";
import { SUMS_ASSET } from "../release/names.ts";
import { publishStaged } from "../release/publish.ts";
import { formatSums, parseSums } from "../release/sums.ts";
import type { ReleaseManifest } from "../schemas/release-manifest.ts";
import { apiUrl, repository, runLink, runnerEnv } from "./github-env.ts";
import { defineAction, VerdictFailure } from "./io.ts";

/** The plan's `devices` output: the fields a release reads from each device job. */
const plannedDevices = obj({ include: arr(open({ cell: str, build: str })) });

/** GitHub refuses an asset of 2 GiB or more, so a larger limit would only fail at upload time. */
function partLimit(bytes: number): number {
  if (bytes > GITHUB_ASSET_LIMIT) {
    throw new ConfigurationError(
      `part-limit ${bytes} is over GitHub's per-asset limit (${GITHUB_ASSET_LIMIT} bytes); use ${GITHUB_ASSET_LIMIT} or less`,
    );
  }
  return bytes;
}

/** The tag this run releases: the input, else the tag GITHUB_REF names. */
function releaseTag(input: string): string {
  if (input !== "") return input;
  const ref = runnerEnv("GITHUB_REF", "the release is made from the tag the workflow runs on");
  if (!ref.startsWith("refs/tags/")) {
    throw new VerdictFailure(
      `GITHUB_REF is ${ref}, not a tag: run farm-release on a tag (push one, or dispatch it from a tag), or pass the tag input`,
      EXIT.usage,
    );
  }
  return ref.slice("refs/tags/".length);
}

/**
 * The attestation's subjects, as a sha256sum file: every asset to upload (SHA256SUMS, which
 * prepare just wrote, names them all with their hashes; SHA256SUMS itself is added) and every
 * whole `.pte` that goes up as parts, so `gh attestation verify` works on the file a user
 * reassembles with `pte-farm fetch` as well as on each download.
 */
async function subjectsFile(staging: string, manifest: ReleaseManifest): Promise<string> {
  const sumsFile = path.join(staging, SUMS_ASSET);
  const sums = parseSums(await readFile(sumsFile, "utf8"), SUMS_ASSET);
  const entries = [...sums].map(([name, sha256]) => ({ name, sha256 }));
  entries.push({ name: SUMS_ASSET, sha256: await sha256File(sumsFile) });
  for (const c of manifest.cells) {
    if (c.file.parts !== null) entries.push({ name: c.file.name, sha256: c.file.sha256 });
  }
  const file = `${staging}.subjects.sha256`;
  await writeFile(file, formatSums(entries));
  return file;
}

export const run = defineAction("release", async (io) => {
  const mode = io.oneOf("mode", ["prepare", "publish"] as const);
  const { owner, repo } = repository();
  const tag = releaseTag(io.input("tag"));
  const staging = io.requiredPath("staging");

  if (mode === "prepare") {
    const devices = parse(plannedDevices, io.json("devices"), "input devices");
    try {
      const prepared = await prepareRelease({
        artifacts: io.requiredPath("artifacts"),
        cells: devices.include.map((d) => ({ cell: d.cell, build: d.build })),
        tag,
        gitSha: runnerEnv("GITHUB_SHA", "the commit the release is made from"),
        repository: `${owner}/${repo}`,
        workflowRun: runLink(owner, repo),
        out: staging,
        partLimit: partLimit(io.int("part-limit", 1)),
        logger: io.logger,
      });
      io.output("checksums", await subjectsFile(staging, prepared.manifest));
      io.output("cells", prepared.manifest.cells.length);
      await io.summary(`### pte-farm release ${tag}: staged\n\n${await readFile(prepared.notes, "utf8")}`);
    } catch (err) {
      if (err instanceof ReleaseBlockedError) {
        const rows = err.blocked.map((b) => `| \`${b.cell}\` | ${b.reason.replaceAll("|", "\\|")} |`);
        await io.summary(
          `### pte-farm release ${tag}: blocked\n\nNothing was published. Each cell below must pass its gate on its device first.\n\n| cell | why |\n|---|---|\n${rows.join("\n")}\n`,
        );
        throw new VerdictFailure(err.message, EXIT.failed);
      }
      throw err;
    }
    return;
  }

  const gh = createGitHub({ token: io.required("github-token"), baseUrl: apiUrl(), logger: io.logger });
  const published = await publishStaged({
    gh,
    owner,
    repo,
    staging,
    tag,
    targetCommitish: runnerEnv("GITHUB_SHA", "the commit the release is made from"),
    publish: io.bool("publish"),
    logger: io.logger,
  });
  io.output("release-url", published.url);
  io.output("release-id", published.id);
  await io.summary(
    `### pte-farm release ${tag}: ${published.draft ? "verified draft" : "published"}\n\n` +
      `${published.assets.length} files uploaded and verified: ${published.url}\n`,
  );
});
