/**
 * The browser tests' Chromium (scripts/chromium.ts). Under CI=true a missing browser fails the
 * files that ask for it (env.ts required), never skips them.
 */
import { existsSync } from "node:fs";
import { CHROMIUM } from "../../scripts/chromium.ts";
import { required } from "./env.ts";

export { CHROMIUM, launchChromium } from "../../scripts/chromium.ts";
export const hasChromium = required(
  existsSync(CHROMIUM),
  `Chromium (${CHROMIUM}, Debian's chromium package)`,
);
