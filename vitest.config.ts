import { defineConfig } from "vitest/config";
import LongestFirst from "./tests/sequencer.ts";

// The stages are real PyTorch processes: a cold end-to-end run takes minutes. Most of that time is
// one Python process on one core, so two files run at once (one per core of the CI machine), the
// longest first (tests/sequencer.ts); timeouts are generous, and no test needs an idle machine.
export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    testTimeout: 20 * 60 * 1000,
    hookTimeout: 20 * 60 * 1000,
  },
});
