// The gate action's bundle entry (actions/gate/dist/index.js); the logic is in ../actions/gate.ts.

import { run } from "../action-runs/gate.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
