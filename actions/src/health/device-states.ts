/**
 * The devices' quarantine states from a history store: reads its run records and health reports
 * and hands them to the pure rules in quarantine.ts. Used by `pte-farm plan --history`, the plan
 * action's `history` input and `pte-farm health states`.
 */
import type { Farm } from "../../../matrix/types.ts";
import { openStore } from "../history/open.ts";
import { collect } from "../history/store.ts";
import type { RunRecord } from "../schemas/run-record.ts";
import { type DeviceStates, deviceStates } from "./quarantine.ts";

export async function storedDeviceStates(farm: Farm, storeSpec: string): Promise<DeviceStates> {
  const store = openStore(storeSpec);
  const runs: RunRecord[] = [];
  for (const device of farm.devices.keys()) runs.push(...(await collect(store, { device })));
  const reports = (await store.listHealth()).map((s) => s.report);
  return deviceStates([...farm.devices.keys()], runs, reports, farm.health.quarantineAfter);
}
