// The report action's bundle entry (actions/report/dist/index.js); the logic is in ../actions/report.ts.

import { run } from "../action-runs/report.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
