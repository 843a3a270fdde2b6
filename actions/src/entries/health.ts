// The health action's bundle entry (actions/health/dist/index.js); the logic is in ../actions/health.ts.

import { run } from "../action-runs/health.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
