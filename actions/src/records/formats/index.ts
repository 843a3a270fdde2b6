/** The export formats by the name `pte-farm export --format` takes. */
import type { RunRecord } from "../../schemas/run-record.ts";
import { toBencherBmf } from "./bencher.ts";
import { toGabBigger } from "./gab.ts";
import { toPytorchV3 } from "./pytorch-v3.ts";

export const EXPORT_FORMATS = {
  "pytorch-v3": toPytorchV3,
  "gab-bigger": toGabBigger,
  "bencher-bmf": toBencherBmf,
} satisfies Record<string, (records: readonly RunRecord[]) => unknown>;

export type ExportFormat = keyof typeof EXPORT_FORMATS;
