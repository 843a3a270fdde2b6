/**
 * From a toolchain definition to a lock. A pinned toolchain's lock is its pins file resolved as
 * written; a channel's is the same file with its tracked packages unpinned, so the index's newest
 * releases that go together are chosen, while held packages (torch: the farm's CPU build) stay at
 * their pins. pip resolves (`--dry-run --report`); nothing is installed.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ToolchainDef } from "../../../matrix/types.ts";
import { InfrastructureError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { normalize, pinLines, requirementName } from "../core/requirements.ts";
import { type Lock, type LockedPackage, lockId } from "./lock.ts";
import { appendLog, classifyPipFailure, pip, pipEvidence } from "./pip.ts";

/** A toolchain whose packages do not go together: upstream's problem, never a model failure or a regression. */
export class ToolchainIncompatibleError extends Error {
  readonly evidence: string;
  constructor(message: string, evidence: string) {
    super(message);
    this.name = "ToolchainIncompatibleError";
    this.evidence = evidence;
  }
}

/** What the resolver is asked for: the pins, with a channel's tracked packages unpinned. */
export async function requestedLines(
  tc: ToolchainDef,
  overrides: ReadonlyMap<string, string> = new Map(),
): Promise<string[]> {
  const track = new Set((tc.channel?.track ?? []).map(normalize));
  const lines = (await pinLines(tc.requirements)).map((line) => {
    const name = requirementName(line);
    if (name !== null && overrides.has(name)) return `${name}==${overrides.get(name)}`;
    return name !== null && track.has(name) ? name : line;
  });
  for (const [name, version] of overrides) {
    if (!lines.some((l) => requirementName(l) === name)) lines.push(`${name}==${version}`);
  }
  return lines;
}

interface PipReport {
  install?: {
    metadata?: { name?: string; version?: string };
    download_info?: { url?: string; archive_info?: { hashes?: Record<string, string>; hash?: string } };
  }[];
  environment?: { python_version?: string; sys_platform?: string; platform_machine?: string };
}

function lockedOf(report: PipReport): LockedPackage[] {
  return (report.install ?? []).map((i) => {
    const info = i.download_info ?? {};
    const sha = info.archive_info?.hashes?.sha256 ?? info.archive_info?.hash?.replace(/^sha256=/, "") ?? "";
    return {
      name: i.metadata?.name ?? "?",
      version: i.metadata?.version ?? "?",
      url: info.url ?? "",
      sha256: sha,
    };
  });
}

export interface ResolveOptions {
  /** The interpreter whose pip resolves (and whose Python and platform the lock is for). */
  python: string;
  logger: Logger;
  /** The file pip's whole output is appended to (kept for the user). */
  logFile: string;
}

/**
 * Resolves requirement lines into a lock. A set that does not resolve is
 * {@link ToolchainIncompatibleError} with pip's evidence; an index that does not answer is
 * {@link InfrastructureError}.
 */
export async function resolveLines(
  toolchain: string,
  requested: readonly string[],
  opts: ResolveOptions,
): Promise<Lock> {
  const dir = await mkdtemp(path.join(tmpdir(), "pte-farm-resolve-"));
  try {
    const reqs = path.join(dir, "requirements.txt");
    const report = path.join(dir, "report.json");
    await writeFile(reqs, `${requested.join("\n")}\n`);
    const r = await pip(opts.python, [
      "install",
      "--dry-run",
      "--ignore-installed",
      "--quiet",
      "--report",
      report,
      "-r",
      reqs,
    ]);
    await appendLog(
      opts.logFile,
      `$ pip install --dry-run --report (toolchain ${toolchain})\n${requested.join("\n")}\n---\n${r.output}`,
    );
    if (!r.ok) {
      const evidence = pipEvidence(r.output);
      if (classifyPipFailure(r.output) === "incompatible") {
        throw new ToolchainIncompatibleError(
          `toolchain incompatible: toolchain ${toolchain} does not resolve (pip): ${evidence.split("\n").slice(-1)[0] ?? ""}`,
          evidence,
        );
      }
      throw new InfrastructureError(
        `resolving toolchain ${toolchain}: pip could not reach the package index: ${evidence}`,
      );
    }
    const parsed = JSON.parse(await readFile(report, "utf8")) as PipReport;
    const packages = lockedOf(parsed).sort((a, b) => normalize(a.name).localeCompare(normalize(b.name)));
    const env = parsed.environment ?? {};
    const python = (env.python_version ?? "").split(".").slice(0, 2).join(".");
    const platform = `${env.sys_platform ?? "?"}-${env.platform_machine ?? "?"}`;
    return {
      schema: "pte-farm/lock@1",
      toolchain,
      id: lockId(python, platform, packages),
      python,
      platform,
      resolved_at: new Date().toISOString(),
      requested: [...requested],
      packages,
      derived: null,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A toolchain of the matrix resolved now (a channel reads the index's newest releases). */
export async function resolveToolchain(tc: ToolchainDef, opts: ResolveOptions): Promise<Lock> {
  return resolveLines(tc.name, await requestedLines(tc), opts);
}
