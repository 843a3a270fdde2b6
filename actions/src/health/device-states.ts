/**
 * The devices' quarantine states from a history store: reads its run records and health reports
 * and hands them to the pure rules in quarantine.ts. Used by `pte-farm plan --history`, the plan
 * action's `history` input and `pte-farm health states`.
 */
import type { Farm } from "../../../matrix/types.ts";
import { openStore } from "../history/open.ts";
import { type DeviceStates, deviceStates } from "./quarantine.ts";

export async function storedDeviceStates(farm: Farm, storeSpec: string): Promise<DeviceStates> {
  const store = openStore(storeSpec);
  const runs = (await store.list()).map((s) => s.record);
  const reports = (await store.listHealth()).map((s) => s.report);
  return deviceStates([...farm.devices.keys()], runs, reports, farm.health.quarantineAfter);
}
