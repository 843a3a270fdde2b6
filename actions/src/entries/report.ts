// The report action's bundle entry (actions/report/dist/index.js); the logic is in ../actions/report.ts.
import { run } from "../actions/report.ts";

await run();
