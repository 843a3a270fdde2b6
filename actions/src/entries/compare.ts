// The compare action's bundle entry (actions/compare/dist/index.js); the logic is in ../actions/compare.ts.
import { run } from "../action-runs/compare.ts";

await run();
