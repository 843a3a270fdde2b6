// The compare action's bundle entry (actions/compare/dist/index.js); the logic is in ../actions/compare.ts.
import { run } from "../actions/compare.ts";

await run();
