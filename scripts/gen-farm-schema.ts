/**
 * Writes matrix/farm.schema.json from the validator definitions in matrix/schema.ts (the one source
 * of truth). Run after changing the schema: `node scripts/gen-farm-schema.ts`; tests/farm-schema.test.ts
 * fails while the committed file is stale.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT } from "../actions/src/core/paths.ts";
import { farmJsonSchema } from "../matrix/schema.ts";

export const FARM_SCHEMA_FILE = path.join(REPO_ROOT, "matrix", "farm.schema.json");

/** The file's exact text: two-space JSON and a final newline. */
export function farmSchemaText(): string {
  return `${JSON.stringify(farmJsonSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  await writeFile(FARM_SCHEMA_FILE, farmSchemaText());
  console.log(`wrote ${path.relative(process.cwd(), FARM_SCHEMA_FILE)}`);
}
