// The quantize action's bundle entry (actions/quantize/dist/index.js); the logic is in ../actions/quantize.ts.

import { run } from "../action-runs/quantize.ts";
import { cancelOnSignals } from "../core/cancel.ts";

// A cancelled job (SIGINT from the runner) kills what runs and still writes its records.
cancelOnSignals();
await run();
