// The execute action's bundle entry (actions/execute/dist/index.js); the logic is in ../actions/execute.ts.
import { run } from "../action-runs/execute.ts";

await run();
