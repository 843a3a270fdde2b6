// The gate action's bundle entry (actions/gate/dist/index.js); the logic is in ../actions/gate.ts.
import { run } from "../action-runs/gate.ts";

await run();
