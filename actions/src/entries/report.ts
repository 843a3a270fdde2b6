// The report action's bundle entry (actions/report/dist/index.js); the logic is in ../actions/report.ts.
import { run } from "../action-runs/report.ts";

await run();
