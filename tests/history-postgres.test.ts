/**
 * The PostgreSQL history store against a real server: a throwaway cluster of Debian's PostgreSQL
 * on a loopback port (scripts/throwaway-postgres.ts), no mock of the database. Each test has a database of
 * its own.
 */
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigurationError, InfrastructureError } from "../actions/src/core/errors.ts";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { PostgresStore } from "../actions/src/history/postgres.ts";
import { collect, serialize } from "../actions/src/history/store.ts";
import type { HealthReport } from "../actions/src/schemas/health-report.ts";
import type { RunRecord } from "../actions/src/schemas/run-record.ts";
import { bisection } from "../scripts/dashboard-histories.ts";
import { type PgServer, startPostgres } from "../scripts/throwaway-postgres.ts";
import { sampleRecord } from "./helpers/record.ts";

const CLI = path.join(REPO_ROOT, "actions", "src", "cli", "pte-farm.ts");
let server: PgServer;
let dbs = 0;
const freshStore = async (opts = {}) => new PostgresStore(await server.database(`t${++dbs}`), opts);

/** Record `i` of writer `w`: distinct ids, spread over cells, devices, roles and nights. */
function rec(w: number, i: number): RunRecord {
  const device = ["pi5", "m1", "host-x86_64"][i % 3] as string;
  const model = `model-${w % 4}`;
  const day = 1 + (i % 28);
  return sampleRecord({
    cell: {
      id: `${model}/fp32/xnnpack/${device}@stable`,
      model,
      recipe: "fp32",
      backend: "xnnpack",
      device,
      toolchain: "stable",
    },
    session: `w${w}-r${i}`,
    role: i % 5 === 0 ? "head" : "nightly",
    started_at: `2026-${String(1 + (i % 12)).padStart(2, "0")}-${String(day).padStart(2, "0")}T02:00:${String(w % 60).padStart(2, "0")}.000Z`,
  });
}

beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

describe("PostgresStore", () => {
  it("stores whole records, idempotently, and answers cell, device, role and last-N queries oldest first", async () => {
    const store = await freshStore({ pageSize: 7 });
    const records = Array.from({ length: 40 }, (_, i) => rec(1, i));
    const ids = await store.append(records);
    expect(await store.append(records.slice(0, 10))).toEqual(ids.slice(0, 10));
    expect(await store.count()).toBe(40);

    const all = await store.list();
    expect(all.map((s) => s.record.started_at)).toEqual(records.map((r) => r.started_at).sort());
    const cell = records[4]?.cell.id as string;
    const mine = await collect(store, { cell });
    expect(mine.length).toBe(records.filter((r) => r.cell.id === cell).length);
    expect(mine.every((r) => r.cell.id === cell)).toBe(true);
    const nightlyPi = await collect(store, { device: "pi5", role: "nightly" });
    expect(nightlyPi.length).toBe(
      records.filter((r) => r.cell.device === "pi5" && r.role === "nightly").length,
    );
    const last3 = await collect(store, { device: "m1", last: 3 });
    const m1 = records
      .filter((r) => r.cell.device === "m1")
      .sort((a, b) => (a.started_at < b.started_at ? -1 : 1));
    expect(last3.map((r) => r.session)).toEqual(m1.slice(-3).map((r) => r.session));
    expect(await collect(store, { cell: "no/such/cell/x@y" })).toEqual([]);
    await store.close();
  });

  it("keeps health reports beside the records, per device, oldest first", async () => {
    const store = await freshStore();
    const report = (device: string, at: string, state: HealthReport["state"]): HealthReport => ({
      schema: "pte-farm/health@1",
      device,
      toolchain: "stable",
      checked_at: at,
      state,
      maintenance: null,
      checks: [],
    });
    await store.appendHealth([
      report("pi5", "2026-11-02T00:00:00.000Z", "good"),
      report("pi5", "2026-11-01T00:00:00.000Z", "bad"),
    ]);
    await store.appendHealth([report("m1", "2026-11-01T00:00:00.000Z", "good")]);
    expect((await store.listHealth("pi5")).map((h) => h.report.state)).toEqual(["bad", "good"]);
    expect((await store.listHealth()).length).toBe(3);
    await store.close();
  });

  it("keeps bisect records beside the records, oldest first, each once however often appended", async () => {
    const store = await freshStore();
    const newer = bisection("cell tiny-llama/fp32/portable/pi5@latest", "2026-12-02T04:41:00.000Z", {
      package: "executorch",
      last_good: "1.5.0",
      first_bad: "1.5.1",
    });
    const older = bisection("command `./check.sh`", "2026-11-02T04:41:00.000Z", { verdict: "interaction" });
    const ids = await store.appendBisects([newer, older]);
    expect(await store.appendBisects([newer])).toEqual([ids[0]]);
    const listed = await store.listBisects();
    expect(listed.map((b) => [b.record.verdict, b.path])).toEqual([
      ["interaction", ids[1]],
      ["found", ids[0]],
    ]);
    expect(listed[1]?.record).toEqual(newer);
    // Not run records: no cell of the store, nothing in a listing.
    expect(await store.cells()).toEqual([]);
    await store.close();
  });

  // @fault history-concurrent-writes | 20 writers appending 1,000 records each at once to PostgreSQL, a tenth of the batches sent again | exactly 20,000 records, byte-identical, none duplicated | records 20000/20000
  it("20 writers appending 1,000 records each at once, 10% of them retried, end with exactly 20,000 byte-identical records", async () => {
    const url = await server.database(`t${++dbs}`);
    const sent = new Map<string, string>();
    const writers = Array.from({ length: 20 }, async (_, w) => {
      const store = new PostgresStore(url);
      const mine = Array.from({ length: 1000 }, (_, i) => rec(w, i));
      for (const r of mine) sent.set(`${r.session}`, serialize(r));
      for (let b = 0; b < 1000; b += 50) {
        const batch = mine.slice(b, b + 50);
        await store.append(batch);
        // A retried job: the same records again, whole batch or a part of it.
        if ((w * 20 + b / 50) % 10 === 0) await store.append(batch);
        if ((w * 20 + b / 50) % 10 === 5) await store.append(batch.slice(0, 25));
      }
      await store.close();
    });
    await Promise.all(writers);
    const reader = new PostgresStore(url, { pageSize: 1000 });
    expect(await reader.count()).toBe(20_000);
    let n = 0;
    for await (const s of reader.query()) {
      expect(serialize(s.record)).toBe(sent.get(s.record.session));
      n++;
    }
    expect(n).toBe(20_000);
    // What is read back is the text that was sent, byte for byte, not a re-serialisation of JSONB.
    const pg = await import("pg");
    const client = new pg.default.Client({ connectionString: url });
    await client.connect();
    const rows = await client.query<{ body: string; session: string }>(
      "SELECT body, session FROM pte_farm_records WHERE session LIKE 'w7-%'",
    );
    await client.end();
    expect(rows.rows.length).toBe(1000);
    for (const row of rows.rows) expect(row.body).toBe(sent.get(row.session));
    await reader.close();
  }, 300_000);

  // @fault history-concurrent-writes | the PostgreSQL server killed mid-append and restarted | appends retried; every acknowledged record stored once, none duplicated | records 12000/12000
  it("loses no acknowledged record and duplicates none when the server is killed mid-append and restarted", async () => {
    const url = await server.database(`t${++dbs}`);
    const store = new PostgresStore(url, { maxAttempts: 30, backoffMs: 100 });
    const acknowledged: string[] = [];
    let failedAppends = 0;
    const batches = Array.from({ length: 30 }, (_, b) => Array.from({ length: 400 }, (_, i) => rec(b, i)));
    const writer = (async () => {
      for (const batch of batches) {
        try {
          acknowledged.push(...(await store.append(batch)));
        } catch {
          failedAppends++;
        }
      }
    })();
    while (acknowledged.length < 2000) await new Promise((r) => setTimeout(r, 5));
    await server.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await server.start();
    await writer;
    expect(failedAppends).toBe(0);
    expect(store.retried).toBeGreaterThan(0);
    const ids = (await store.list()).map((s) => s.path);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(30 * 400);
    const stored = new Set(ids);
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    await store.close();
  }, 300_000);

  it("calls an unreachable server an infrastructure error that names the host and never the password", async () => {
    const dead = `postgres://pte:s3cret-pass@127.0.0.1:${server.port + 1}/postgres`;
    const store = new PostgresStore(dead, { maxAttempts: 2, backoffMs: 10 });
    const err = await store.append([rec(0, 0)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfrastructureError);
    expect(String(err)).toContain(`127.0.0.1:${server.port + 1}`);
    expect(String(err)).not.toContain("s3cret-pass");
    await store.close();
  });

  it("refuses wrong credentials as bad input, without echoing the password", async () => {
    const wrong = server.url.replace(server.password, "not-the-password");
    const err = await new PostgresStore(wrong).append([rec(0, 0)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(String(err)).not.toContain("not-the-password");
  });
});

describe("pte-farm history with --store postgres", () => {
  const cli = (env: Record<string, string>, ...args: string[]) =>
    execa(process.execPath, [CLI, ...args], { reject: false, cwd: REPO_ROOT, env });

  it("reads the URL from the environment, and refuses one on the command line with exit 2", async () => {
    const url = await server.database(`t${++dbs}`);
    const store = new PostgresStore(url);
    await store.append([rec(3, 1), rec(3, 2)]);
    await store.close();
    const ok = await cli({ PTE_FARM_HISTORY_URL: url }, "history", "list", "--store", "postgres");
    expect(ok.exitCode).toBe(0);
    expect(ok.stderr + ok.stdout).toContain("2 record(s) in postgres://pte@127.0.0.1");
    expect(ok.stderr + ok.stdout).not.toContain(server.password);

    const other = await cli({ FARM_DB: url }, "history", "list", "--store", "postgres:FARM_DB");
    expect(other.exitCode).toBe(0);

    const argv = await cli({}, "history", "list", "--store", url);
    expect(argv.exitCode).toBe(2);
    expect(argv.stderr).toContain("put it in PTE_FARM_HISTORY_URL");
    expect(argv.stderr).not.toContain(server.password);

    const unset = await cli({}, "history", "list", "--store", "postgres");
    expect(unset.exitCode).toBe(2);
    expect(unset.stderr).toContain("PTE_FARM_HISTORY_URL is not set");
  });
});
