/**
 * The PostgreSQL history store's tables (created on first use, idempotently) and which errors mean
 * the server is away for now (retried) rather than refusing the statement (postgres.ts).
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS pte_farm_records (
  id text COLLATE "C" PRIMARY KEY,
  cell text COLLATE "C" NOT NULL,
  model text NOT NULL,
  recipe text NOT NULL,
  backend text NOT NULL,
  device text COLLATE "C" NOT NULL,
  toolchain text NOT NULL,
  role text NOT NULL,
  session text NOT NULL,
  git_sha text,
  started_at text COLLATE "C" NOT NULL,
  status text NOT NULL,
  versions jsonb NOT NULL,
  metrics text[] NOT NULL,
  body text NOT NULL,
  doc jsonb GENERATED ALWAYS AS (body::jsonb) STORED,
  stored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pte_farm_records_cell ON pte_farm_records (cell, started_at, id);
CREATE INDEX IF NOT EXISTS pte_farm_records_device ON pte_farm_records (device, started_at, id);
CREATE INDEX IF NOT EXISTS pte_farm_records_time ON pte_farm_records (started_at, id);
CREATE INDEX IF NOT EXISTS pte_farm_records_sha ON pte_farm_records (git_sha);
CREATE TABLE IF NOT EXISTS pte_farm_health (
  id text COLLATE "C" PRIMARY KEY,
  device text COLLATE "C" NOT NULL,
  checked_at text COLLATE "C" NOT NULL,
  state text NOT NULL,
  body text NOT NULL,
  doc jsonb GENERATED ALWAYS AS (body::jsonb) STORED
);
CREATE INDEX IF NOT EXISTS pte_farm_health_device ON pte_farm_health (device, checked_at, id);
CREATE TABLE IF NOT EXISTS pte_farm_bisect (
  id text COLLATE "C" PRIMARY KEY,
  subject text NOT NULL,
  started_at text COLLATE "C" NOT NULL,
  verdict text NOT NULL,
  body text NOT NULL,
  doc jsonb GENERATED ALWAYS AS (body::jsonb) STORED
);
`;

/** Server-side codes and client errors that mean "the server is not there right now". */
const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, recovering)
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
]);

export function transient(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code !== undefined && TRANSIENT_CODES.has(e.code)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    e.message ?? "",
  );
}
