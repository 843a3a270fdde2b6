/**
 * A pull request whose base and head builds of a cell are the same bytes: its speed cannot have
 * changed, so nothing is measured (the device job runs the head once, for the gate's tokens) and
 * the comparison says "unchanged — identical artefact". Refused when the bytes differ: that
 * comparison needs a measurement.
 */
import { ConfigurationError } from "../core/errors.ts";
import { displayPath } from "../core/paths.ts";
import { readManifest } from "../pipeline/stage-job.ts";
import { readRunRecord } from "../records/read.ts";
import { COMPARE_SCHEMA, type Comparison, sideOf } from "./verdicts.ts";

export const IDENTICAL_NOTE =
  "base and head .pte are byte-identical: speed unchanged by construction, not measured";

export async function identicalComparison(baseManifest: string, headRecord: string): Promise<Comparison> {
  const [man, head] = await Promise.all([readManifest(baseManifest), readRunRecord(headRecord)]);
  const sha = head.pte?.sha256;
  if (sha === undefined || sha !== man.pte.sha256) {
    throw new ConfigurationError(
      `base-manifest ${displayPath(baseManifest)} names .pte ${man.pte.sha256}, but head ${displayPath(headRecord)} ` +
        `measured ${sha ?? "no .pte"}: they are not identical; compare against a base run record instead`,
    );
  }
  return {
    schema: COMPARE_SCHEMA,
    cell: head.cell.id,
    base: { session: "", git_sha: null, toolchain: man.cell.toolchain ?? head.cell.toolchain },
    head: sideOf(head),
    paired: false,
    verdict: "unchanged",
    metrics: {},
    notes: [`${IDENTICAL_NOTE} (sha256 ${sha})`],
    identical: { pte_sha256: sha },
  };
}
