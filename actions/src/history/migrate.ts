/**
 * `pte-farm history migrate`: copies a history from one store to another (git → PostgreSQL when a
 * farm outgrows its data branch) and proves nothing was lost: after copying, both stores are read
 * back and every source record must be in the target with the same id and the same bytes, checked
 * by count and by a content hash over the records (sha256 of the sorted per-record hashes).
 * Appends are idempotent, so an interrupted migration is resumed by running it again.
 */

import { InfrastructureError } from "../core/errors.ts";
import { sha256Text } from "../core/hashing.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import {
  type HistoryStore,
  type StoredRecord,
  serialize,
  serializeBisect,
  serializeHealth,
} from "./store.ts";

export interface MigrateResult {
  records: number;
  health: number;
  bisects: number;
  /** sha256 over the source's records (ids and bytes), equal to the target's over the same ids. */
  contentHash: string;
  /** Records the target held that the source does not (kept; a migration never deletes). */
  targetOnly: number;
}

const BATCH = 1000;

/** A record's digest: sha256 of its id and stored text. */
const digest = (s: StoredRecord) => sha256Text(`${s.path}\n${serialize(s.record)}`);

/** Each record's id → its digest, for one store. */
async function digests(store: HistoryStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const s of store.query()) out.set(s.path, digest(s));
  return out;
}

export function contentHash(d: ReadonlyMap<string, string>, ids: Iterable<string> = d.keys()): string {
  return sha256Text(
    [...ids]
      .map((id) => d.get(id) ?? "")
      .sort()
      .join("\n"),
  );
}

export async function migrate(
  from: HistoryStore,
  to: HistoryStore,
  log: (m: string) => void,
): Promise<MigrateResult> {
  let batch: RunRecord[] = [];
  let copied = 0;
  // The source is read once: its digests are taken as its records are copied.
  const src = new Map<string, string>();
  for await (const s of from.query()) {
    src.set(s.path, digest(s));
    batch.push(s.record);
    if (batch.length >= BATCH) {
      copied += (await to.append(batch)).length;
      batch = [];
      log(`copied ${copied} record(s)`);
    }
  }
  copied += (await to.append(batch)).length;
  const health = await from.listHealth();
  await to.appendHealth(health.map((h) => h.report));
  const bisects = await from.listBisects();
  await to.appendBisects(bisects.map((b) => b.record));

  const [dst, dstHealth, dstBisects] = await Promise.all([digests(to), to.listHealth(), to.listBisects()]);
  const missing = [...src].filter(([id, h]) => dst.get(id) !== h).map(([id]) => id);
  const healthIds = new Set(dstHealth.map((h) => `${h.path}\n${serializeHealth(h.report)}`));
  const healthMissing = health.filter((h) => !healthIds.has(`${h.path}\n${serializeHealth(h.report)}`));
  const bisectIds = new Set(dstBisects.map((b) => `${b.path}\n${serializeBisect(b.record)}`));
  const bisectsMissing = bisects.filter((b) => !bisectIds.has(`${b.path}\n${serializeBisect(b.record)}`));
  const hashFrom = contentHash(src);
  const hashTo = contentHash(dst, src.keys());
  if (
    missing.length > 0 ||
    healthMissing.length > 0 ||
    bisectsMissing.length > 0 ||
    hashFrom !== hashTo ||
    copied !== src.size
  ) {
    throw new InfrastructureError(
      `history migrate ${from.describe()} → ${to.describe()}: ${missing.length} record(s) and ` +
        `${healthMissing.length} health report(s) and ${bisectsMissing.length} bisect record(s) missing or different in the target` +
        (missing[0] === undefined ? "" : ` (first: ${missing[0]})`) +
        `; source ${src.size} record(s), ${copied} copied; nothing was deleted, run it again`,
    );
  }
  return {
    records: src.size,
    health: health.length,
    bisects: bisects.length,
    contentHash: hashFrom,
    targetOnly: [...dst.keys()].filter((id) => !src.has(id)).length,
  };
}
