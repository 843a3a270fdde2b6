/** `--store dir:PATH | git:REPO[#branch]` → a store; anything else is a usage error (exit 2). */
import { existsSync } from "node:fs";
import { ConfigurationError } from "../core/errors.ts";
import { GitBranchStore } from "./git-branch.ts";
import { LocalFolderStore } from "./local-folder.ts";
import type { HistoryStore } from "./store.ts";

export function openStore(spec: string): HistoryStore {
  if (spec.startsWith("dir:") && spec.length > 4) return new LocalFolderStore(spec.slice(4));
  if (spec.startsWith("git:") && spec.length > 4) {
    const [repo, branch] = spec.slice(4).split("#", 2) as [string, string | undefined];
    // A data branch lives in an existing repository (in CI, the checkout); we never create one.
    if (!existsSync(repo)) {
      throw new ConfigurationError(`--store ${spec}: ${repo} does not exist; point git: at a git repository`);
    }
    return new GitBranchStore(repo, branch === undefined || branch === "" ? {} : { branch });
  }
  throw new ConfigurationError(
    `--store ${spec}: expected dir:PATH (a folder) or git:REPO[#branch] (a git repository; default branch pte-farm-data)`,
  );
}
