/**
 * `pte-farm plan`: the cells an event runs, as GitHub Actions job lists. Pure: a farm, an event and
 * the changed paths in, a {@link Plan} out (sharding and output formats are in shard.ts).
 *
 * A build job is one (model, recipe, backend, toolchain, build architecture): it exports, quantizes
 * and lowers once, and every device cell that runs that `.pte` needs it — a Pi 5, an M1 and the
 * arm64 host share one arm64 build. Device jobs are one per cell and name their build by id.
 */
import { createHash } from "node:crypto";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import { type AffectedPaths, affectedCells } from "./affected.ts";
import { type Cell, cellSet, type Skipped } from "./cells.ts";
import type { BuildArch, Driver, FarmEvent } from "./schema.ts";
import type { Farm } from "./types.ts";

export interface BuildJob {
  /** Stable and readable: the key's parts plus a short hash of them (names may contain '.'). */
  build: string;
  model: string;
  recipe: string;
  backend: string;
  toolchain: string;
  arch: BuildArch;
  runs_on: string[];
  /** The device cells this build serves. */
  cells: string[];
}

export interface DeviceJob {
  cell: string;
  build: string;
  model: string;
  recipe: string;
  backend: string;
  device: string;
  toolchain: string;
  runs_on: string[];
  driver: Driver;
  fork_prs: boolean;
  reason: string;
}

export interface Plan {
  schema: "pte-farm/plan@1";
  event: FarmEvent;
  cell_set: string;
  builds: BuildJob[];
  devices: DeviceJob[];
  skipped: Skipped[];
  selection: { cell: string; reason: string }[];
  /** For pull requests: how each changed path was decided. */
  changes?: AffectedPaths;
}

export interface PlanRequest {
  event: FarmEvent;
  /** Changed repository paths (pull requests); required when the event keeps only affected cells. */
  changed?: readonly string[] | null;
  /** The base's farm, to diff the matrix file when it changed. */
  base?: Farm | null;
  /** When `base` is null: why (e.g. the base's file does not validate), for the selection reasons. */
  noBase?: string;
  /**
   * Quarantined devices → why (actions/src/health/quarantine.ts): their cells get no build or device job
   * and are listed as skipped, "quarantined: <why>", until a health check passes.
   */
  quarantined?: ReadonlyMap<string, string>;
}

export function buildId(key: {
  model: string;
  recipe: string;
  backend: string;
  toolchain: string;
  arch: string;
}) {
  const parts = [key.model, key.recipe, key.backend, key.toolchain, key.arch];
  const hash = createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 8);
  return `${parts.join(".")}-${hash}`;
}

/** Build and device jobs for `cells`, each carrying its selection reason. */
export function jobsFor(farm: Farm, cells: readonly Cell[], reasons: ReadonlyMap<string, string>) {
  const builds = new Map<string, BuildJob>();
  const devices: DeviceJob[] = [];
  for (const cell of cells) {
    const arch = cell.device.buildArch;
    const key = { ...cell.ref, arch };
    const id = buildId(key);
    let build = builds.get(id);
    if (build === undefined) {
      build = {
        build: id,
        model: key.model,
        recipe: key.recipe,
        backend: key.backend,
        toolchain: key.toolchain,
        arch,
        runs_on: farm.buildRunners[arch],
        cells: [],
      };
      builds.set(id, build);
    }
    build.cells.push(cell.id);
    devices.push({
      cell: cell.id,
      build: id,
      ...cell.ref,
      runs_on: cell.device.runsOn,
      driver: cell.device.driver,
      fork_prs: cell.device.forkPrs,
      reason: reasons.get(cell.id) ?? "",
    });
  }
  return { builds: [...builds.values()], devices };
}

/** Why a channel's cells are not planned: the workflows' build jobs install pinned toolchains only. */
export function channelReason(toolchain: string): string {
  return `toolchain ${toolchain} is a channel: farm-upstream runs its cells on its resolved lock (pte-farm run --lock); the build and device jobs install pinned toolchains only`;
}

export function plan(farm: Farm, req: PlanRequest): Plan {
  const { cells: setName, onlyAffected } = farm.events[req.event];
  const all = cellSet(farm, setName);
  const cells = all.cells.filter((c) => c.toolchain.channel === null);
  const skipped: Skipped[] = [
    ...all.skipped,
    ...all.cells
      .filter((c) => c.toolchain.channel !== null)
      .map((c) => ({ cell: c.id, reason: channelReason(c.toolchain.name), known_issue: null })),
  ];
  const reasons = new Map<string, string>();
  let changes: AffectedPaths | undefined;
  if (onlyAffected) {
    if (req.changed == null) {
      throw new ConfigurationError(
        `events.${req.event}.only_affected is set, so plan --event ${req.event} needs --changed-files FILE ` +
          "(one path per line, e.g. from `git diff --name-only BASE...HEAD`)",
      );
    }
    const affected = affectedCells(farm, cells, req.changed, req.base ?? null, setName, req.noBase);
    for (const [id, why] of affected.reasons) reasons.set(id, why);
    changes = affected.changes;
  } else {
    const included = new Map(
      farm.include.filter((i) => i.sets.includes(setName)).map((i) => [i.cell, i.reason]),
    );
    for (const cell of cells) {
      const inc = included.get(cell.id);
      reasons.set(
        cell.id,
        `${req.event} runs cell set ${setName}${inc === undefined ? "" : ` (included: ${inc})`}`,
      );
    }
  }
  const quarantined = req.quarantined ?? new Map<string, string>();
  const selected = cells.filter((c) => reasons.has(c.id) && !quarantined.has(c.device.name));
  const held: Skipped[] = cells
    .filter((c) => reasons.has(c.id) && quarantined.has(c.device.name))
    .map((c) => ({
      cell: c.id,
      reason: `quarantined: ${quarantined.get(c.device.name)}`,
      known_issue: null,
    }));
  const { builds, devices } = jobsFor(farm, selected, reasons);
  return {
    schema: "pte-farm/plan@1",
    event: req.event,
    cell_set: setName,
    builds,
    devices,
    skipped: [...skipped, ...held],
    selection: devices.map((d) => ({ cell: d.cell, reason: d.reason })),
    ...(changes === undefined ? {} : { changes }),
  };
}
