// The release action's bundle entry (actions/release/dist/index.js); the logic is in ../actions/release.ts.
import { run } from "../action-runs/release.ts";

await run();
