/**
 * `pte-farm health`: the health action's check from a shell (a maintainer bringing a board up,
 * the provisioning scripts' last step), and `pte-farm health states`, which says from a history
 * store which devices are quarantined and why. argv in, exit code out; main.ts turns thrown
 * errors into exit codes.
 */
import { parseArgs } from "node:util";
import { loadFarm } from "../../../matrix/load.ts";
import { ConfigurationError, EXIT, type ExitCode } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { DEFAULT_MATRIX, defaultCacheDir, defaultPython } from "../core/paths.ts";
import { HEALTH_DEFAULTS } from "../health/defaults.ts";
import { storedDeviceStates } from "../health/device-states.ts";
import type { DeviceStates } from "../health/quarantine.ts";
import { checkDevice, healthMarkdown, healthProblem } from "../health/run.ts";
import { readLock } from "../toolchain/lock.ts";
import { usageErrors } from "./args.ts";

export const HEALTH_USAGE = `pte-farm health --device NAME [options]
  --device NAME            the farm device this machine serves (matrix devices.<NAME>)
  --toolchain NAME         the toolchain whose pins it must have (default ${HEALTH_DEFAULTS.toolchain})
  --matrix FILE            farm definition (default: matrix/farm.yml)
  --out DIR                where health.json goes; the disk check measures its file system (default out/health)
  --min-free-disk-mb N     (default ${HEALTH_DEFAULTS.minFreeDiskMb})
  --min-free-memory-mb N   (default ${HEALTH_DEFAULTS.minFreeMemoryMb})
  --maintenance-file FILE  present: the device is in maintenance (default ${HEALTH_DEFAULTS.maintenanceFile})
  --history STORE          append the report to a history store; a good one lifts the device's quarantine
  --lock FILE              a channel toolchain's lock (pte-farm toolchain resolve): checked in the lock's
                           environment, against its exact versions (required for a channel)
  --json                   print the report (pte-farm/health@1) instead of a table
  checks: disk, memory, temperature, throttle, toolchain, stages-import, smoke-pte (built once per
  toolchain into the build cache, run every time); exit 0 good, 3 bad, unknown or maintenance, 2 bad input

pte-farm health states --history STORE [--matrix FILE] [--json]
  each device's last health state and whether it is quarantined, and why (exit 0)`;

function mib(flag: string, value: string | undefined, fallback: string): number {
  const text = value ?? fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigurationError(`${flag} ${text}: expected an integer >= 0`);
  return n;
}

/** `pte-farm health …`: argv in, exit code out. */
export async function healthCli(argv: string[], logger: Logger): Promise<ExitCode> {
  if (argv[0] === "states") return statesCli(argv.slice(1), logger);
  const { values, positionals } = usageErrors("health", () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        device: { type: "string" },
        toolchain: { type: "string" },
        matrix: { type: "string" },
        out: { type: "string" },
        "min-free-disk-mb": { type: "string" },
        "min-free-memory-mb": { type: "string" },
        "maintenance-file": { type: "string" },
        history: { type: "string" },
        lock: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(HEALTH_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) {
    throw new ConfigurationError(
      `health: unexpected ${positionals.join(" ")}; expected options, or \`states\``,
    );
  }
  if (values.device === undefined)
    throw new ConfigurationError("health needs --device NAME (a device of the matrix)");
  const maintenanceFile = values["maintenance-file"] ?? HEALTH_DEFAULTS.maintenanceFile;
  const { report, file, stored } = await checkDevice({
    farm: await loadFarm(values.matrix ?? DEFAULT_MATRIX),
    device: values.device,
    toolchain: values.toolchain ?? HEALTH_DEFAULTS.toolchain,
    python: defaultPython(),
    outDir: values.out ?? "out/health",
    cacheDir: defaultCacheDir(),
    minFreeDiskMb: mib("--min-free-disk-mb", values["min-free-disk-mb"], HEALTH_DEFAULTS.minFreeDiskMb),
    minFreeMemoryMb: mib(
      "--min-free-memory-mb",
      values["min-free-memory-mb"],
      HEALTH_DEFAULTS.minFreeMemoryMb,
    ),
    maintenanceFile: maintenanceFile === "" ? null : maintenanceFile,
    ...(values.history === undefined ? {} : { history: values.history }),
    ...(values.lock === undefined ? {} : { lock: await readLock(values.lock) }),
    labels: { device: "--device", toolchain: "--toolchain" },
  });
  logger.info(values.json ? JSON.stringify(report, null, 2) : healthMarkdown(report));
  if (!values.json) logger.info(`report: ${file}${stored === null ? "" : `; stored as ${stored}`}`);
  if (report.state === "good") return EXIT.ok;
  logger.error(`${report.device} is ${report.state}: ${healthProblem(report)}`);
  return EXIT.infra;
}

function statesTable(states: DeviceStates): string {
  const rows = states.devices.map(
    (d) =>
      `| ${d.device} | ${d.health === null ? "never checked" : `${d.health.state} (${d.health.checked_at})`} | ` +
      `${d.infra_streak} | ${d.quarantined ? `quarantined: ${(d.reason ?? "").replaceAll("|", "\\|")}` : "in service"} |`,
  );
  return (
    `quarantine after ${states.quarantine_after_infra_errors} infrastructure errors in a row\n\n` +
    `| device | last health check | infra errors in a row | jobs |\n|---|---|---|---|\n${rows.join("\n")}`
  );
}

async function statesCli(argv: string[], logger: Logger): Promise<ExitCode> {
  const { values } = usageErrors("health", () =>
    parseArgs({
      args: argv,
      options: {
        history: { type: "string" },
        matrix: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }),
  );
  if (values.help) {
    logger.info(HEALTH_USAGE);
    return EXIT.ok;
  }
  if (values.history === undefined) {
    throw new ConfigurationError("health states needs --history dir:PATH | git:REPO[#branch]");
  }
  const states = await storedDeviceStates(await loadFarm(values.matrix ?? DEFAULT_MATRIX), values.history);
  logger.info(values.json ? JSON.stringify(states, null, 2) : statesTable(states));
  return EXIT.ok;
}
