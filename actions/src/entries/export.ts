// The export action's bundle entry (actions/export/dist/index.js); the logic is in ../actions/export.ts.
import { run } from "../action-runs/export.ts";

await run();
