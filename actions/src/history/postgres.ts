/**
 * History in PostgreSQL, for farms whose history outgrows a git branch (node-postgres, `pg`: the
 * PostgreSQL client Node projects use; no ORM). A record is stored whole, as the exact text the
 * other stores write (`body`, so a record read back is byte-identical to the one sent) with a JSONB
 * copy the server derives from it (`doc`, for ad-hoc queries), beside the columns readers filter
 * and order by: the cell and its parts, role, session, commit, time, status, the toolchain's
 * versions and the metric names. Health reports and bisect records sit in tables of their own.
 *
 * - **Idempotent:** a record's id is its content-addressed path (store.ts), the primary key; an
 *   append is one `INSERT … ON CONFLICT DO NOTHING` statement, so a retried append adds nothing
 *   and a batch is all in or all out.
 * - **Many writers:** the database serialises them; none is lost.
 * - **A server that goes away** (killed, restarting, unreachable) is retried with jittered backoff
 *   up to a bound, then an infrastructure error naming the server without its password. Nothing
 *   was acknowledged that the server did not commit.
 * - **Readers stream:** {@link PostgresStore.query} reads a page at a time in (started_at, id)
 *   order, each page its own retried statement resuming after the last row handed over.
 */
import pg from "pg";
import { type BisectRecord, bisectRecord } from "../bisect/record.ts";
import { ConfigurationError, InfrastructureError } from "../core/errors.ts";
import { parseJson } from "../core/validate.ts";
import { type HealthReport, healthReport } from "../schemas/health-report.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { SCHEMA, transient } from "./postgres-schema.ts";
import {
  bisectPath,
  type HistoryStore,
  healthPath,
  type RecordQuery,
  readStored,
  recordPath,
  type StoredBisect,
  type StoredHealth,
  type StoredRecord,
  serialize,
  serializeBisect,
  serializeHealth,
} from "./store.ts";

export interface PostgresOptions {
  /** Attempts per statement before giving up on an unreachable server (default 10). */
  maxAttempts?: number;
  /** First backoff in ms; doubles per attempt up to 5 s, with full jitter (default 100). */
  backoffMs?: number;
  /** Rows per page when reading (default 500). */
  pageSize?: number;
}

/** `postgres://user@host:port/db`: the URL with its password (and query) left out, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username === "" ? "" : `${decodeURIComponent(u.username)}@`;
    return `${u.protocol}//${user}${u.host}${u.pathname}`;
  } catch {
    return "postgres://(unparseable URL)";
  }
}

const ignore = () => {};

const PAGE_COLUMNS = "id, started_at, body";

export class PostgresStore implements HistoryStore {
  private readonly url: string;
  private readonly where: string;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly pageSize: number;
  private pool: pg.Pool | null = null;
  /** Statements retried because the server was away (tests check a fault was really met). */
  retried = 0;
  private ready: Promise<void> | null = null;

  constructor(url: string, opts: PostgresOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigurationError(
        `the history database URL is not a URL; expected postgres://USER:PASSWORD@HOST:PORT/DB`,
      );
    }
    if (!/^postgres(ql)?:$/.test(parsed.protocol)) {
      throw new ConfigurationError(
        `the history database URL must start with postgres://, not ${parsed.protocol}//`,
      );
    }
    this.url = url;
    this.where = redactUrl(url);
    this.maxAttempts = opts.maxAttempts ?? 10;
    this.backoffMs = opts.backoffMs ?? 100;
    this.pageSize = opts.pageSize ?? 500;
  }

  describe(): string {
    return this.where;
  }

  private getPool(): pg.Pool {
    if (this.pool === null) {
      // allowExitOnIdle: a CLI process ends when its work is done, without an explicit close.
      this.pool = new pg.Pool({
        connectionString: this.url,
        max: 4,
        idleTimeoutMillis: 1000,
        connectionTimeoutMillis: 10_000,
        allowExitOnIdle: true,
      });
      // An idle connection the server drops is not an error of any statement: the next one reconnects.
      this.pool.on("error", () => {});
    }
    return this.pool;
  }

  /** Runs `fn` on a pooled connection, retrying while the server is away (see the module doc). */
  private async run<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient | null = null;
      try {
        client = await this.getPool().connect();
        // A connection the server drops mid-statement also emits "error" on the client: the
        // statement's rejection below is what handles it.
        client.on("error", ignore);
        const out = await fn(client);
        client.off("error", ignore);
        client.release();
        return out;
      } catch (err) {
        client?.release(true);
        const code = (err as { code?: string }).code;
        if (code === "28P01" || code === "28000") {
          throw new ConfigurationError(
            `history ${this.where}: the server refused the credentials (${code}); check the user and password in the URL's environment variable`,
          );
        }
        if (code === "3D000") {
          throw new ConfigurationError(`history ${this.where}: the database does not exist; create it first`);
        }
        if (!transient(err)) throw err;
        if (attempt >= this.maxAttempts) {
          throw new InfrastructureError(
            `history ${this.where}: cannot reach the server to ${what} after ${attempt} attempts (${code ?? (err as Error).message})`,
          );
        }
        this.retried++;
        const cap = Math.min(5000, this.backoffMs * 2 ** (attempt - 1));
        await new Promise((r) => setTimeout(r, cap / 2 + (Math.random() * cap) / 2));
      }
    }
  }

  /** Creates the tables once per store (concurrent creators serialised by an advisory lock). */
  private schema(): Promise<void> {
    this.ready ??= this.run("create the tables", async (c) => {
      await c.query("BEGIN");
      try {
        await c.query("SELECT pg_advisory_xact_lock(hashtext('pte-farm-history-schema'))");
        await c.query(SCHEMA);
        await c.query("COMMIT");
      } catch (err) {
        await c.query("ROLLBACK").catch(() => {});
        throw err;
      }
    }).catch((err) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  async append(records: readonly RunRecord[]): Promise<string[]> {
    if (records.length === 0) return [];
    await this.schema();
    const rows = records.map((r) => {
      const body = serialize(r);
      return { id: recordPath(r, body), r, body };
    });
    const col = <T>(f: (x: (typeof rows)[number]) => T) => rows.map(f);
    await this.run("append records", (c) =>
      c.query(
        `INSERT INTO pte_farm_records
           (id, cell, model, recipe, backend, device, toolchain, role, session, git_sha, started_at, status, versions, metrics, body)
         SELECT id, cell, model, recipe, backend, device, toolchain, role, session, git_sha, started_at, status, versions::jsonb,
                ARRAY(SELECT jsonb_array_elements_text(metrics::jsonb)), body
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
           AS t(id, cell, model, recipe, backend, device, toolchain, role, session, git_sha, started_at, status, versions, metrics, body)
         ON CONFLICT (id) DO NOTHING`,
        [
          col((x) => x.id),
          col((x) => x.r.cell.id),
          col((x) => x.r.cell.model),
          col((x) => x.r.cell.recipe),
          col((x) => x.r.cell.backend),
          col((x) => x.r.cell.device),
          col((x) => x.r.cell.toolchain),
          col((x) => x.r.role),
          col((x) => x.r.session),
          col((x) => x.r.git_sha),
          col((x) => x.r.started_at),
          col((x) => x.r.status),
          col((x) => JSON.stringify({ build: x.r.toolchain.build, device: x.r.toolchain.device })),
          col((x) => JSON.stringify(Object.keys(x.r.metrics).sort())),
          col((x) => x.body),
        ],
      ),
    );
    return rows.map((x) => x.id);
  }

  async appendHealth(reports: readonly HealthReport[]): Promise<string[]> {
    return this.appendDocs("health reports", "pte_farm_health", ["device", "checked_at", "state"], reports, {
      text: serializeHealth,
      id: healthPath,
      columns: (r) => [r.device, r.checked_at, r.state],
    });
  }

  /**
   * Adds documents to a table of their own (health reports, bisect records): the id, three
   * columns to filter and order by, the body. Each once, as {@link append} adds records.
   */
  private async appendDocs<T>(
    what: string,
    table: string,
    names: readonly [string, string, string],
    docs: readonly T[],
    how: {
      text: (d: T) => string;
      id: (d: T, body: string) => string;
      columns: (d: T) => readonly [string, string, string];
    },
  ): Promise<string[]> {
    if (docs.length === 0) return [];
    await this.schema();
    const rows = docs.map((d) => {
      const body = how.text(d);
      return [how.id(d, body), ...how.columns(d), body] as const;
    });
    await this.run(`append ${what}`, (c) =>
      c.query(
        `INSERT INTO ${table} (id, ${names.join(", ")}, body)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         ON CONFLICT (id) DO NOTHING`,
        [0, 1, 2, 3, 4].map((i) => rows.map((row) => row[i])),
      ),
    );
    return rows.map((row) => row[0]);
  }

  async list(cellId?: string): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    for await (const s of this.query(cellId === undefined ? {} : { cell: cellId })) out.push(s);
    return out;
  }

  async *query(q: RecordQuery = {}): AsyncIterable<StoredRecord> {
    await this.schema();
    const filters: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      filters.push(sql.replace("?", `$${params.length}`));
    };
    if (q.cell !== undefined) add("cell = ?", q.cell);
    if (q.device !== undefined) add("device = ?", q.device);
    if (q.role !== undefined) add("role = ?", q.role);
    const last = q.last;
    if (last !== undefined) {
      if (last <= 0) return;
      // The oldest of the newest `last` rows is where the pages start.
      const where = filters.length === 0 ? "" : `WHERE ${filters.join(" AND ")}`;
      const edge = await this.run("read records", (c) =>
        c.query<{ started_at: string; id: string }>(
          `SELECT started_at, id FROM pte_farm_records ${where} ORDER BY started_at DESC, id DESC OFFSET $${params.length + 1} LIMIT 1`,
          [...params, last - 1],
        ),
      );
      const first = edge.rows[0];
      if (first !== undefined) {
        params.push(first.started_at, first.id);
        filters.push(`(started_at, id) >= ($${params.length - 1}, $${params.length})`);
      }
    }
    let after: { started_at: string; id: string } | null = null;
    for (;;) {
      const page: unknown[] = [...params];
      const conds = [...filters];
      if (after !== null) {
        page.push(after.started_at, after.id);
        conds.push(`(started_at, id) > ($${page.length - 1}, $${page.length})`);
      }
      page.push(this.pageSize);
      const where = conds.length === 0 ? "" : `WHERE ${conds.join(" AND ")}`;
      const res = await this.run("read records", (c) =>
        c.query<{ id: string; started_at: string; body: string }>(
          `SELECT ${PAGE_COLUMNS} FROM pte_farm_records ${where} ORDER BY started_at, id LIMIT $${page.length}`,
          page,
        ),
      );
      for (const row of res.rows) yield readStored(row.id, row.body, this.where);
      const last = res.rows.at(-1);
      if (last === undefined || res.rows.length < this.pageSize) return;
      after = { started_at: last.started_at, id: last.id };
    }
  }

  async cells(): Promise<string[]> {
    await this.schema();
    const res = await this.run("list cells", (c) =>
      c.query<{ cell: string }>("SELECT DISTINCT cell FROM pte_farm_records ORDER BY cell"),
    );
    return res.rows.map((r) => r.cell);
  }

  async listHealth(device?: string): Promise<StoredHealth[]> {
    await this.schema();
    const res = await this.run("read health reports", (c) =>
      c.query<{ id: string; body: string }>(
        `SELECT id, body FROM pte_farm_health ${device === undefined ? "" : "WHERE device = $1"} ORDER BY checked_at, id`,
        device === undefined ? [] : [device],
      ),
    );
    return res.rows.map((row) => ({
      path: row.id,
      report: parseJson(healthReport, row.body, `${this.where}:${row.id}`),
    }));
  }

  async appendBisects(records: readonly BisectRecord[]): Promise<string[]> {
    return this.appendDocs(
      "bisect records",
      "pte_farm_bisect",
      ["subject", "started_at", "verdict"],
      records,
      {
        text: serializeBisect,
        id: bisectPath,
        columns: (r) => [r.subject, r.started_at, r.verdict],
      },
    );
  }

  async listBisects(): Promise<StoredBisect[]> {
    await this.schema();
    const res = await this.run("read bisect records", (c) =>
      c.query<{ id: string; body: string }>("SELECT id, body FROM pte_farm_bisect ORDER BY started_at, id"),
    );
    return res.rows.map((row) => ({
      path: row.id,
      record: parseJson(bisectRecord, row.body, `${this.where}:${row.id}`),
    }));
  }

  /** Records in the store (for migrate's check and the benchmark). */
  async count(): Promise<number> {
    await this.schema();
    const res = await this.run("count records", (c) =>
      c.query<{ n: string }>("SELECT count(*) AS n FROM pte_farm_records"),
    );
    return Number(res.rows[0]?.n ?? 0);
  }

  /** Closes the pool (tests; a CLI process exits without it). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    this.ready = null;
    await pool?.end();
  }
}
