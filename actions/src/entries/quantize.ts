// The quantize action's bundle entry (actions/quantize/dist/index.js); the logic is in ../actions/quantize.ts.
import { run } from "../action-runs/quantize.ts";

await run();
