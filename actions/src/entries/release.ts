// The release action's bundle entry (actions/release/dist/index.js); the logic is in ../actions/release.ts.

import { run } from "../action-runs/release.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
