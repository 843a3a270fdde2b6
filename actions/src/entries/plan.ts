// The plan action's bundle entry (actions/plan/dist/index.js); the logic is in ../actions/plan.ts.
import { run } from "../action-runs/plan.ts";

await run();
