/**
 * Debian's Chromium driven by playwright-core (no browser download: `make setup` installs the
 * `chromium` package when it is missing), for the dashboard's benchmark, its screenshots and its
 * browser tests (tests/helpers/browser.ts).
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { ConfigurationError } from "../actions/src/core/errors.ts";

/** Where Debian's package puts the browser; PTE_FARM_CHROMIUM overrides it. */
export const CHROMIUM = process.env.PTE_FARM_CHROMIUM ?? "/usr/bin/chromium";

/** A headless Chromium; its sandbox needs user namespaces, which a root container lacks. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new ConfigurationError(
      `no Chromium at ${CHROMIUM}: run make setup (it installs Debian's chromium) or set PTE_FARM_CHROMIUM`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
  });
}
