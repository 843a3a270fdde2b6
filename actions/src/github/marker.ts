/**
 * Hidden markers: an HTML comment in a body (invisible on github.com) by which the farm finds its
 * own comment or issue again, e.g. `<!-- pte-farm:bench -->`.
 */
import { ConfigurationError } from "../core/errors.ts";

/** Throws unless `marker` is one HTML comment that markdown will hide and keep intact. */
export function assertMarker(marker: string): void {
  if (!/^<!--(?:(?!--)[\s\S])+-->$/.test(marker) || marker.trim() !== marker) {
    throw new ConfigurationError(
      `marker ${JSON.stringify(marker)} must be a single HTML comment such as "<!-- pte-farm:bench -->"`,
    );
  }
}

/** `body` with `marker` as its first line, unless it already carries the marker. */
export function withMarker(body: string, marker: string): string {
  return body.includes(marker) ? body : `${marker}\n${body}`;
}
