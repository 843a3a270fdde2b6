/**
 * The package index, through pip: resolution (`pip install --dry-run --report`), installation
 * into an environment and the list of a package's releases (`pip index versions --json`). pip is
 * the resolver here on purpose: it reads the same configuration (indexes, find-links, the
 * machine's constraints) as `make setup`, so a lock says what a user's pip would install.
 * What pip printed is kept whole in the caller's log; what comes back says which kind of failure
 * it was, because "these versions do not go together" is a verdict about upstream, and "the index
 * did not answer" is infrastructure.
 */
import { appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";

export type PipFailureKind = "incompatible" | "infra";

/** Failures that rerunning will not change: the set does not resolve, or a file does not fit this machine. */
const INCOMPATIBLE = [
  /ResolutionImpossible/,
  /No matching distribution found/,
  /Could not find a version that satisfies/,
  /conflicting dependencies/,
  /requires a different Python/,
  /is not a supported wheel on this platform/,
  /Failed to build/,
  /subprocess-exited-with-error/,
];

/** The index or the network failed: whatever else pip then printed (a build that could not fetch its backend), rerunning may help. */
const NETWORK = [
  /ConnectionError|ConnectTimeoutError|NewConnectionError|ProtocolError/,
  /Read timed out|Max retries exceeded|Temporary failure in name resolution|Connection (refused|reset)/,
  /HTTP error (429|5\d\d)|\b(502|503|504) (Server Error|Service Unavailable|Bad Gateway|Gateway Time-out)/,
  /THESE PACKAGES DO NOT MATCH THE HASHES/,
  /No space left on device/,
];

export function classifyPipFailure(output: string): PipFailureKind {
  if (NETWORK.some((re) => re.test(output))) return "infra";
  return INCOMPATIBLE.some((re) => re.test(output)) ? "incompatible" : "infra";
}

/** The lines of pip's output that say what went wrong (its warnings about ignored locations are noise). */
export function pipEvidence(output: string, max = 12): string {
  const lines = output
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "" && !/^WARNING: Location .* is ignored/.test(l));
  const errors = lines.filter((l) =>
    /ERROR|error|Error|conflict|requires|Requires|requested|depends on/.test(l),
  );
  return (errors.length > 0 ? errors : lines).slice(-max).join("\n");
}

export interface PipResult {
  ok: boolean;
  /** stdout and stderr interleaved, as a terminal would show them. */
  output: string;
  stdout: string;
  exitCode: number | undefined;
}

export async function pip(
  python: string,
  args: readonly string[],
  opts: { cancel?: AbortSignal } = {},
): Promise<PipResult> {
  const r = await execa(python, ["-m", "pip", "--disable-pip-version-check", ...args], {
    reject: false,
    all: true,
    env: { PYTHONNOUSERSITE: "1" },
    ...(opts.cancel === undefined ? {} : { cancelSignal: opts.cancel }),
  });
  return { ok: r.exitCode === 0, output: r.all ?? "", stdout: r.stdout ?? "", exitCode: r.exitCode };
}

/** A package's released versions from the index, newest first, in pip's (PEP 440) order. */
export async function releasedVersions(
  python: string,
  name: string,
): Promise<PipResult & { versions: string[] }> {
  const r = await pip(python, ["index", "versions", name, "--json"]);
  if (!r.ok) return { ...r, versions: [] };
  try {
    const parsed = JSON.parse(r.stdout) as { versions?: unknown };
    const versions = Array.isArray(parsed.versions)
      ? parsed.versions.filter((v): v is string => typeof v === "string")
      : [];
    return { ...r, versions };
  } catch {
    return { ...r, ok: false, versions: [] };
  }
}

/** Appends one command's whole output to a log file (its folder made when missing). */
export async function appendLog(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await appendFile(file, `${text.endsWith("\n") ? text : `${text}\n`}\n`);
}
