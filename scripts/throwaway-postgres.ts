/**
 * A throwaway PostgreSQL cluster for the tests and the history benchmark: the real server from Debian's packages (the
 * Makefile installs them when missing), initialised in a temporary folder, listening on a free
 * loopback port with password authentication, stopped (and its folder removed) by `stop()`.
 * initdb and postgres refuse to run as root, so as root they run as the `postgres` user the
 * Debian package creates. A missing server is a failure, not a skip: the history tests must run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import pg from "pg";

export interface PgServer {
  /** postgres://pte:PASSWORD@127.0.0.1:PORT/postgres */
  url: string;
  password: string;
  port: number;
  /** Creates a fresh database and returns its URL (one per test keeps tests apart). */
  database(name: string): Promise<string>;
  /** SIGKILL-like: `pg_ctl stop -m immediate` (no checkpoint; crash recovery on restart). */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  const roots = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql") : [];
  const versions = roots.filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions[0] !== undefined) return `/usr/lib/postgresql/${versions[0]}/bin`;
  const which = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
  if (which.status === 0) return path.dirname(which.stdout.trim());
  throw new Error(
    "PostgreSQL is not installed (no initdb): run `make setup`, which installs Debian's postgresql",
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<PgServer> {
  const bin = binDir();
  const root = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), "pte-farm-pg-"));
  const data = path.join(dir, "data");
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const pwfile = path.join(dir, "pwfile");
  await writeFile(pwfile, `${password}\n`);
  if (root) {
    const id = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    if (id.status !== 0) throw new Error("no postgres user: install Debian's postgresql (make setup)");
    await chown(dir, Number(id.stdout), Number(gid.stdout));
    await chown(pwfile, Number(id.stdout), Number(gid.stdout));
    await chmod(dir, 0o700);
  }
  const as = (cmd: string, args: string[]) =>
    root
      ? execa("runuser", ["-u", "postgres", "--", cmd, ...args], { cwd: dir })
      : execa(cmd, args, { cwd: dir });
  await as(`${bin}/initdb`, [
    "-D",
    data,
    "-U",
    "pte",
    `--pwfile=${pwfile}`,
    "--auth=scram-sha-256",
    "--encoding=UTF8",
    "--locale=C",
    "--no-sync",
  ]);
  const port = await freePort();
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=on -c max_connections=200`;
  const start = async () => {
    await as(`${bin}/pg_ctl`, [
      "-D",
      data,
      "-o",
      opts,
      "-l",
      path.join(dir, "server.log"),
      "-w",
      "-t",
      "60",
      "start",
    ]);
  };
  const stopMode = (mode: string) =>
    as(`${bin}/pg_ctl`, ["-D", data, "-m", mode, "-w", "stop"]).then(() => {});
  await start();
  const url = `postgres://pte:${password}@127.0.0.1:${port}/postgres`;
  let running = true;
  const server: PgServer = {
    url,
    password,
    port,
    async database(name) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return `postgres://pte:${password}@127.0.0.1:${port}/${name}`;
    },
    kill: async () => {
      await stopMode("immediate");
      running = false;
    },
    start: async () => {
      await start();
      running = true;
    },
    stop: async () => {
      if (running) await stopMode("fast").catch(() => {});
      running = false;
      await rm(dir, { recursive: true, force: true });
    },
  };
  // A test process that dies mid-file must not leave a server behind.
  process.once("exit", () => {
    const stop = [`${bin}/pg_ctl`, "-D", data, "-m", "immediate", "stop"];
    if (running)
      spawnSync(
        root ? "runuser" : (stop[0] as string),
        root ? ["-u", "postgres", "--", ...stop] : stop.slice(1),
      );
  });
  return server;
}
