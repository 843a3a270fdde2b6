/**
 * Links from the PR comment and the nightly issues to a cell's dashboard page, when the farm has
 * one (the repository variable PTE_FARM_DASHBOARD_URL: the GitHub Pages site farm-nightly
 * publishes). The cell id is a query parameter, encoded; the whole URL is checked like any link.
 */
import { safeUrl } from "../escape.ts";

/** `BASE/cell.html?cell=ID`, or null when no dashboard is configured (empty base). */
export function cellPageUrl(base: string | null | undefined, cellId: string): string | null {
  if (base === null || base === undefined || base.trim() === "") return null;
  return safeUrl(`${base.trim().replace(/\/+$/, "")}/cell.html?cell=${encodeURIComponent(cellId)}`);
}
