// The execute action's bundle entry (actions/execute/dist/index.js); the logic is in ../actions/execute.ts.

import { run } from "../action-runs/execute.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
