import { defineConfig } from "vitest/config";

// The stages are real PyTorch processes: a cold end-to-end run takes minutes and wants the CPU to
// itself, so files run one after another and timeouts are generous.
export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 20 * 60 * 1000,
    hookTimeout: 20 * 60 * 1000,
  },
});
