/**
 * Loads the known-issue catalogue (`matrix/known-issues.yml`, `pte-farm/known-issues@1`) into typed
 * data with compiled signatures. A bad regex or version range is a ConfigurationError at load time,
 * not a silent non-match at triage time.
 */
import { ConfigurationError } from "../actions/src/core/errors.ts";
import {
  arr,
  type Check,
  type Infer,
  int,
  literal,
  nonEmptyStr,
  obj,
  optional,
  record,
  refine,
  str,
  unknownValue,
} from "../actions/src/core/validate.ts";
import { isValidRange } from "../actions/src/core/version-range.ts";
import { STAGES, type StageName } from "../actions/src/schemas/stage.ts";
import { readYamlFile } from "./yaml-file.ts";

const signature: Check<{ literal?: string; regex?: string }> = refine(
  obj({ literal: optional(nonEmptyStr), regex: optional(nonEmptyStr) }),
  (s) =>
    (s.literal === undefined) === (s.regex === undefined)
      ? { path: [], message: "a signature has exactly one of `literal` or `regex`" }
      : null,
);

const catalogueSchema = obj({
  schema: literal("pte-farm/known-issues@1"),
  issues: arr(
    obj({
      id: nonEmptyStr,
      upstream: optional(int),
      title: nonEmptyStr,
      stages: arr(literal(...STAGES, "any")),
      signatures: arr(signature),
      applies_to: record(str),
      when: optional(
        obj({
          platform: optional(arr(nonEmptyStr)),
          toolchain_mismatch: optional(arr(nonEmptyStr)),
          recipe: optional(record(unknownValue)),
        }),
      ),
      workaround: nonEmptyStr,
    }),
  ),
});
type IssueFile = Infer<typeof catalogueSchema>["issues"][number];

/** One catalogue entry, ready to match: signatures compiled to RegExps. */
export interface KnownIssue {
  id: string;
  upstream: number | null;
  title: string;
  /** Empty means any stage. */
  stages: StageName[];
  signatures: RegExp[];
  appliesTo: Record<string, string>;
  when: IssueFile["when"];
  workaround: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Loads and checks the catalogue; throws ConfigurationError naming file:line:col on any problem. */
export async function loadKnownIssues(file: string): Promise<KnownIssue[]> {
  const yaml = await readYamlFile(file, catalogueSchema, "known-issue catalogue");
  const seen = new Set<string>();
  return yaml.data.issues.map((issue, i) => {
    if (seen.has(issue.id))
      throw new ConfigurationError(`${yaml.where(["issues", i, "id"])}: duplicate id ${issue.id}`);
    seen.add(issue.id);
    for (const [pkg, range] of Object.entries(issue.applies_to)) {
      if (!isValidRange(range)) {
        throw new ConfigurationError(
          `${yaml.where(["issues", i, "applies_to", pkg])}: bad version range ${JSON.stringify(range)}; ` +
            `use comparators like ">=1.2.0 <1.4.0", "==2.11.0" or "*"`,
        );
      }
    }
    const signatures = issue.signatures.map((s, j) => {
      try {
        return new RegExp(s.regex ?? escapeRegExp(s.literal ?? ""));
      } catch (err) {
        throw new ConfigurationError(
          `${yaml.where(["issues", i, "signatures", j, "regex"])}: bad regex: ${(err as Error).message}`,
        );
      }
    });
    return {
      id: issue.id,
      upstream: issue.upstream ?? null,
      title: issue.title,
      stages: issue.stages.includes("any") ? [] : (issue.stages as StageName[]),
      signatures,
      appliesTo: issue.applies_to,
      when: issue.when,
      workaround: issue.workaround,
    };
  });
}
