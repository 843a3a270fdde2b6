// The lower action's bundle entry (actions/lower/dist/index.js); the logic is in ../actions/lower.ts.
import { run } from "../action-runs/lower.ts";

await run();
