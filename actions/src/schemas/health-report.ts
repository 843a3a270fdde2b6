/**
 * The health report (`pte-farm/health@1`): what `pte-farm health` and the health action write,
 * and what the history store keeps beside run records so a device's quarantine can be derived
 * from stored facts (quarantine.ts) instead of a mutable state file that would need a lock.
 *
 * States are LAVA's device health states:
 * - `good`: every check passed (a check that does not apply to the device is `skip` and neutral);
 * - `unknown`: no check failed, but at least one could not run (its tool or sensor was missing,
 *   or it threw): health was not established;
 * - `bad`: at least one check failed;
 * - `maintenance`: a person took the device out of service (the maintenance file exists), whatever
 *   the checks found.
 */
import {
  arr,
  type Infer,
  literal,
  nonEmptyStr,
  nullable,
  obj,
  optional,
  record,
  str,
  unknownValue,
} from "../core/validate.ts";

export const HEALTH_SCHEMA = "pte-farm/health@1";
export const HEALTH_STATES = ["good", "unknown", "bad", "maintenance"] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

/** `unknown`: the check itself could not run; `skip`: it does not apply to this device. */
export const CHECK_STATUSES = ["pass", "fail", "unknown", "skip"] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export const checkResult = obj({
  name: nonEmptyStr,
  status: literal(...CHECK_STATUSES),
  detail: str,
  data: optional(record(unknownValue)),
});
export type CheckResult = Infer<typeof checkResult>;

export const healthReport = obj({
  schema: literal(HEALTH_SCHEMA),
  device: nonEmptyStr,
  toolchain: nonEmptyStr,
  state: literal(...HEALTH_STATES),
  /** ISO 8601 UTC; orders health reports against run records' `started_at`. */
  checked_at: nonEmptyStr,
  /** Why the runner is in maintenance (the file's first line), or null. */
  maintenance: nullable(str),
  checks: arr(checkResult),
});
export type HealthReport = Infer<typeof healthReport>;
