// The lower action's bundle entry (actions/lower/dist/index.js); the logic is in ../actions/lower.ts.

import { run } from "../action-runs/lower.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
