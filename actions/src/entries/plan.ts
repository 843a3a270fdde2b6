// The plan action's bundle entry (actions/plan/dist/index.js); the logic is in ../actions/plan.ts.

import { run } from "../action-runs/plan.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
