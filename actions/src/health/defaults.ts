/**
 * The health check's defaults, shared by the health action's inputs (action-runs/io-table.ts) and
 * `pte-farm health`, so a runner checked from a shell meets the same bar as one checked in CI.
 */
export const HEALTH_DEFAULTS = {
  toolchain: "stable",
  minFreeDiskMb: "4096",
  minFreeMemoryMb: "1024",
  maintenanceFile: "/etc/pte-farm/maintenance",
} as const;
