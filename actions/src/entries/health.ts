// The health action's bundle entry (actions/health/dist/index.js); the logic is in ../actions/health.ts.
import { run } from "../action-runs/health.ts";

await run();
