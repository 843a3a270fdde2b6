/**
 * `--store dir:PATH | git:REPO[#branch] | postgres[:ENV]` → a store; anything else is a usage
 * error (exit 2). A database URL carries a password, so it is never an argument (arguments land in
 * shell history, `ps` and CI logs): `postgres` reads it from PTE_FARM_HISTORY_URL, `postgres:NAME`
 * from the environment variable NAME (in CI, a secret).
 */
import { existsSync } from "node:fs";
import { ConfigurationError } from "../core/errors.ts";
import { GitBranchStore } from "./git-branch.ts";
import { LocalFolderStore } from "./local-folder.ts";
import { PostgresStore } from "./postgres.ts";
import type { HistoryStore } from "./store.ts";

export const HISTORY_URL_ENV = "PTE_FARM_HISTORY_URL";

export const STORE_FORMS =
  "dir:PATH (a folder), git:REPO[#branch] (a git repository; default branch pte-farm-data) or postgres[:ENV] (the URL in $PTE_FARM_HISTORY_URL, or in $ENV)";

/** A store spec, or a bare folder (what the workflows' checkouts of the data branch are) as `dir:`. */
export function openStoreOrFolder(specOrFolder: string, env: NodeJS.ProcessEnv = process.env): HistoryStore {
  const spec = /^(dir|git):|^postgres(:|$)/.test(specOrFolder) ? specOrFolder : `dir:${specOrFolder}`;
  return openStore(spec, env);
}

export function openStore(spec: string, env: NodeJS.ProcessEnv = process.env): HistoryStore {
  if (spec.startsWith("dir:") && spec.length > 4) return new LocalFolderStore(spec.slice(4));
  if (spec.startsWith("git:") && spec.length > 4) {
    const [repo, branch] = spec.slice(4).split("#", 2) as [string, string | undefined];
    // A data branch lives in an existing repository (in CI, the checkout); we never create one.
    if (!existsSync(repo)) {
      throw new ConfigurationError(`--store ${spec}: ${repo} does not exist; point git: at a git repository`);
    }
    return new GitBranchStore(repo, branch === undefined || branch === "" ? {} : { branch });
  }
  if (/^postgres(ql)?:\/\//.test(spec)) {
    throw new ConfigurationError(
      `--store: a database URL is not given on the command line (it would land in shell history and logs); ` +
        `put it in ${HISTORY_URL_ENV} (in CI, a secret) and pass --store postgres`,
    );
  }
  const pgEnv = /^postgres(?::([A-Za-z_][A-Za-z0-9_]*))?$/.exec(spec);
  if (pgEnv !== null) {
    const name = pgEnv[1] ?? HISTORY_URL_ENV;
    const url = env[name];
    if (url === undefined || url === "") {
      throw new ConfigurationError(
        `--store ${spec}: ${name} is not set; set it to postgres://USER:PASSWORD@HOST:PORT/DB`,
      );
    }
    return new PostgresStore(url);
  }
  throw new ConfigurationError(`--store ${spec}: expected ${STORE_FORMS}`);
}
