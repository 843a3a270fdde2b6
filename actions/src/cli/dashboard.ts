/**
 * `pte-farm dashboard build|serve`: the farm's history as a static site (actions/src/dashboard/),
 * and that site served on loopback for a look. A missing or unreadable history is bad input (exit 2).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { buildDashboard } from "../dashboard/build.ts";
import { serveSite } from "../dashboard/serve.ts";
import { usageErrors } from "./args.ts";

export const DASHBOARD_USAGE = `pte-farm dashboard build --history STORE --out DIR [--repo-url URL] [--compare-config FILE] [--matrix FILE]
pte-farm dashboard serve [--dir DIR] [--port N]
  build             writes the static site (overview, a page per cell, devices, releases) from
                    a history store: dir:PATH, git:REPO[#branch], postgres[:ENV] or a folder
  --repo-url URL    https://github.com/OWNER/REPO: cell pages link to their nightly issues
  serve             serves DIR (default out/dashboard) on 127.0.0.1 (default port 8080) until
                    interrupted; the site also opens from disk (DIR/index.html)`;

function repoUrl(value: string | undefined): string | null {
  if (value === undefined || value === "") return null;
  if (!/^https:\/\/[\w.-]+\/[\w.-]+\/[\w.-]+\/?$/.test(value)) {
    throw new ConfigurationError(
      `--repo-url ${value}: expected https://HOST/OWNER/REPO, e.g. https://github.com/org/farm`,
    );
  }
  return value.replace(/\/$/, "");
}

/** `pte-farm dashboard …`: argv in, exit code out. */
export async function dashboardCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  const { values } = usageErrors("dashboard", () =>
    parseArgs({
      args: rest,
      options: {
        history: { type: "string" },
        out: { type: "string" },
        "repo-url": { type: "string" },
        "compare-config": { type: "string" },
        matrix: { type: "string" },
        dir: { type: "string" },
        port: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help || sub === "--help" || sub === "-h" || sub === undefined) {
    logger.info(DASHBOARD_USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub === "build") {
    if (values.history === undefined || values.out === undefined) {
      throw new ConfigurationError(
        "dashboard build: --history STORE and --out DIR are required (see pte-farm help dashboard)",
      );
    }
    const started = performance.now();
    const r = await buildDashboard({
      history: values.history,
      out: values.out,
      repoUrl: repoUrl(values["repo-url"]),
      ...(values["compare-config"] === undefined ? {} : { compareConfig: values["compare-config"] }),
      ...(values.matrix === undefined ? {} : { matrix: values.matrix }),
      logger,
    });
    const s = ((performance.now() - started) / 1000).toFixed(1);
    logger.info(
      `dashboard: ${r.cells} cells, ${r.records} records → ${r.out} in ${s} s (open ${path.join(r.out, "index.html")})`,
    );
    return EXIT.ok;
  }
  if (sub === "serve") {
    const dir = values.dir ?? path.join("out", "dashboard");
    if (!existsSync(path.join(dir, "index.html"))) {
      throw new ConfigurationError(
        `dashboard serve: ${dir} holds no built site; run pte-farm dashboard build --history STORE --out ${dir} first`,
      );
    }
    const port = Number(values.port ?? "8080");
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new ConfigurationError(`--port ${values.port}: expected 0-65535`);
    const { server, url } = await serveSite(dir, port);
    logger.info(`serving ${dir} at ${url} (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => server.close(() => resolve()));
      process.once("SIGTERM", () => server.close(() => resolve()));
    });
    return EXIT.ok;
  }
  throw new ConfigurationError(`dashboard ${sub}: expected build or serve`);
}
