/**
 * Renders markdown with cmark-gfm, the parser GitHub's markdown is built on (through the
 * `cmarkgfm` Python binding), so escaping tests check what a real GFM parser does with our output
 * rather than what we believe it does. Raw HTML is let through (GitHub sanitises afterwards), so a
 * tag that survives here is a tag our escaping failed to neutralise.
 *
 * GitHub's own post-processing (mentions, issue references) is not part of cmark-gfm: the
 * helpers below apply its published matching rules to the rendered text.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { defaultPython } from "../../actions/src/core/paths.ts";
import { required } from "./env.ts";

const python = defaultPython();

/** Whether the toolchain python can import cmarkgfm (a dev requirement). */
export const hasGfm = required(
  spawnSync(python, ["-c", "import cmarkgfm"], { stdio: "ignore" }).status === 0,
  `cmark-gfm (the cmarkgfm package in ${python})`,
);

const SCRIPT = `
import json, sys
import cmarkgfm
from cmarkgfm.cmark import Options
docs = json.load(sys.stdin)
json.dump([cmarkgfm.github_flavored_markdown_to_html(d, options=Options.CMARK_OPT_UNSAFE) for d in docs], sys.stdout)
`;

/** HTML for each markdown document (one process for the batch). */
export function renderGfm(docs: readonly string[]): string[] {
  const out = execFileSync(python, ["-c", SCRIPT], {
    input: JSON.stringify(docs),
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.toString("utf8")) as string[];
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" };

/** Decodes the entities cmark-gfm writes (named basics and numeric). */
export function decodeEntities(html: string): string {
  return html.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e.startsWith("#x") || e.startsWith("#X"))
      return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return ENTITIES[e] ?? String.fromCodePoint(Number(e.slice(1)));
    return ENTITIES[e] ?? m;
  });
}

/** The tag names in an HTML fragment, in order (closing tags as "/name"). */
export function tags(html: string): string[] {
  return [...html.matchAll(/<(\/?[a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => (m[1] as string).toLowerCase());
}

/** The visible text of an HTML fragment, entities decoded. */
export function textOf(html: string): string {
  return decodeEntities(html.replace(/<[^>]*>/g, ""));
}

/** Text GitHub's mention and reference filters look at: everything outside code, pre and links. */
export function linkableText(html: string): string {
  return textOf(html.replace(/<(code|pre|a)\b[^>]*>[\s\S]*?<\/\1>/g, " "));
}

/**
 * What GitHub would turn into a notification or a cross-reference: `@user`, `@org/team` (a
 * mention is `@` after a non-word character, followed by a login's first character) and `#123`.
 */
export function pings(html: string): string[] {
  const text = linkableText(html);
  return [...text.matchAll(/(?:^|[^\w`])(@[a-z0-9][a-z0-9-]*(?:\/[a-z0-9_-]+)?|#\d+|GH-\d+)/gi)].map(
    (m) => m[1] as string,
  );
}
