// The export action's bundle entry (actions/export/dist/index.js); the logic is in ../actions/export.ts.

import { run } from "../action-runs/export.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
