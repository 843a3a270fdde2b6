// The compare action's bundle entry (actions/compare/dist/index.js); the logic is in ../actions/compare.ts.

import { run } from "../action-runs/compare.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
