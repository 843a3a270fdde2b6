import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../actions/src/core/errors.ts";
import {
  cleanText,
  codeBlock,
  codeSpan,
  escapeHtml,
  escapeInline,
  mermaidString,
  plainText,
  safeUrl,
  tail,
  truncate,
} from "../reports/escape.ts";
import { ADVERSARIAL } from "./helpers/adversarial.ts";
import { hasGfm, pings, renderGfm, tags, textOf } from "./helpers/gfm.ts";

/** What the escaped text must render as: the original, on one line, controls made visible. */
function expected(x: string): string {
  return cleanText(x, { keepNewlines: false }).trim();
}

const ZW = /\u200b/g;

describe("escapeInline", () => {
  it("leaves no raw markup character, line break or control character in its output", () => {
    for (const x of ADVERSARIAL) {
      const e = escapeInline(x);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may pass
      expect(e, x).not.toMatch(/[<>|\n\r\u0000-\u001f\u202e]/);
      expect(e, x).not.toMatch(/(?<!\\)[*_`[\]~]/);
    }
  });

  it("breaks mentions, issue references and bare links with a zero-width space entity", () => {
    expect(escapeInline("@octocat")).toBe("@&#8203;octocat");
    expect(escapeInline("@org/team")).toBe("@&#8203;org/team");
    expect(escapeInline("fixes #12")).toBe("fixes \\#&#8203;12");
    expect(escapeInline("https://x.example")).toBe("https:&#8203;//x.example");
    expect(escapeInline("www.x.example")).toBe("www&#8203;.x.example");
    expect(escapeInline("GH-7")).toBe("GH-&#8203;7");
  });

  it("cuts long text between grapheme clusters, never inside an emoji or a surrogate pair", () => {
    const family = "👨‍👩‍👧";
    const out = escapeInline(family.repeat(50), 40);
    expect(out.isWellFormed()).toBe(true);
    expect(out.endsWith("…")).toBe(true);
    expect(out.slice(0, -1).replaceAll(family, "")).toBe("");
  });

  it.skipIf(!hasGfm)(
    "renders every adversarial string as its own text in a single table cell (cmark-gfm)",
    () => {
      const docs = ADVERSARIAL.map((x) => `| h | n |\n|---|---|\n| ${escapeInline(x)} | 1 |\n`);
      const html = renderGfm(docs);
      ADVERSARIAL.forEach((x, i) => {
        const h = html[i] as string;
        const cells = [...h.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((m) => m[1] as string);
        expect(cells, x).toHaveLength(2);
        expect(tags(cells[0] as string), x).toEqual([]);
        expect(textOf(cells[0] as string).replace(ZW, ""), x).toBe(expected(x));
        expect(pings(h), x).toEqual([]);
        expect(h, x).not.toContain("<a ");
      });
    },
  );

  it.skipIf(!hasGfm)(
    "renders every adversarial string as text when it starts a list item (cmark-gfm)",
    () => {
      const html = renderGfm(ADVERSARIAL.map((x) => `- ${escapeInline(x)}\n`));
      ADVERSARIAL.forEach((x, i) => {
        const h = html[i] as string;
        expect(tags(h), x).toEqual(["ul", "li", "/li", "/ul"]);
        expect(textOf(h).trim().replace(ZW, ""), x).toBe(expected(x));
        expect(pings(h), x).toEqual([]);
      });
    },
  );
});

describe("escapeHtml", () => {
  it.skipIf(!hasGfm)(
    "keeps adversarial text inside a <summary> without closing or opening any element (cmark-gfm)",
    () => {
      const docs = ADVERSARIAL.map(
        (x) => `<details><summary>${escapeHtml(x)}</summary>\n\nbody\n\n</details>\n`,
      );
      const html = renderGfm(docs);
      ADVERSARIAL.forEach((x, i) => {
        const h = html[i] as string;
        expect(tags(h), x).toEqual(["details", "summary", "/summary", "p", "/p", "/details"]);
        const summary = /<summary>([\s\S]*?)<\/summary>/.exec(h)?.[1] ?? "";
        expect(textOf(summary).replace(ZW, ""), x).toBe(expected(x));
        expect(pings(h), x).toEqual([]);
      });
    },
  );

  it("inserts nothing inside <code> text, so a cell id stays copy-pasteable", () => {
    expect(escapeHtml("m/r/b/pi5@stable", 100, { code: true })).toBe("m/r/b/pi5@stable");
    expect(escapeHtml("m/r/b/pi5@stable")).toBe("m/r/b/pi5@&#8203;stable");
  });
});

describe("code spans and blocks", () => {
  it.skipIf(!hasGfm)(
    "a code span in a table holds backticks and pipes as text, in one cell (cmark-gfm)",
    () => {
      const html = renderGfm(
        ADVERSARIAL.map((x) => `| h | n |\n|---|---|\n| ${codeSpan(x, { table: true })} | 1 |\n`),
      );
      ADVERSARIAL.forEach((x, i) => {
        const cells = [...(html[i] as string).matchAll(/<td>([\s\S]*?)<\/td>/g)].map((m) => m[1] as string);
        expect(cells, x).toHaveLength(2);
        expect(tags(cells[0] as string), x).toEqual(["code", "/code"]);
        expect(textOf(cells[0] as string), x).toBe(cleanText(x, { keepNewlines: false }));
      });
    },
  );

  it.skipIf(!hasGfm)("a code block cannot be closed from inside, even within <details> (cmark-gfm)", () => {
    const logs = [
      ...ADVERSARIAL,
      "```\n</details>\n```\n````\n~~~\n",
      "x\n```````\n<script>alert(1)</script>",
    ];
    const html = renderGfm(
      logs.map((x) => `<details><summary>s</summary>\n\n${codeBlock(x, "text")}\n\n</details>\n`),
    );
    logs.forEach((x, i) => {
      const h = html[i] as string;
      expect(tags(h), x).toEqual([
        "details",
        "summary",
        "/summary",
        "pre",
        "code",
        "/code",
        "/pre",
        "/details",
      ]);
      const code = /<code[^>]*>([\s\S]*?)<\/code>/.exec(h)?.[1] ?? "";
      expect(textOf(code), x).toBe(`${cleanText(x, { keepNewlines: true }).replace(/\n+$/, "")}\n`);
    });
  });

  it("makes the fence longer than the longest backtick run", () => {
    expect(codeBlock("a ````` b").startsWith("``````\n")).toBe(true);
    expect(codeBlock("plain").startsWith("```\n")).toBe(true);
    expect(codeSpan("a `` b")).toBe("```a `` b```");
    expect(codeSpan("`x`")).toBe("`` `x` ``");
  });

  it("drops a language tag that is not a plain word", () => {
    expect(codeBlock("x", "sh onload=1").split("\n")[0]).toBe("```");
  });
});

describe("mermaidString", () => {
  it("quotes a label and lets through only letters, digits and a few separators", () => {
    const label = mermaidString('a"] \n%%{init: {"theme":"dark"}}%%#quot;`x`');
    expect(label).toMatch(/^"[^"%#`\]\n[]*"$/);
    expect(mermaidString("模型 11-23")).toBe('"模型 11-23"');
  });
});

describe("truncate, tail and cleanText", () => {
  it("truncates CJK and emoji to at most the budget without a lone surrogate", () => {
    for (const s of ["😀".repeat(100), "模型".repeat(100), "a😀".repeat(100)]) {
      for (const max of [1, 2, 3, 10, 11, 99]) {
        const t = truncate(s, max);
        expect(t.length).toBeLessThanOrEqual(max);
        expect(t.isWellFormed()).toBe(true);
      }
    }
  });

  it("keeps the last lines of a log and counts the ones left out", () => {
    const log = Array.from({ length: 500 }, (_, i) => `line ${i}`).join("\n");
    const t = tail(log, 40, 100_000);
    expect(t.text.split("\n")).toHaveLength(40);
    expect(t.text.endsWith("line 499")).toBe(true);
    expect(t.omitted).toBe(460);
  });

  it("starts the tail of one huge emoji line on a whole character", () => {
    const t = tail("😀".repeat(100_000), 40, 4001);
    expect(t.text.isWellFormed()).toBe(true);
    expect(t.text.length).toBeLessThanOrEqual(4001);
  });

  it("makes lone surrogates, controls and bidi overrides visible as U+FFFD", () => {
    expect(cleanText("a\ud800b\u202ec\u0000d", { keepNewlines: false })).toBe("a\ufffdb\ufffdc\ufffdd");
    expect(cleanText("a\r\nb\u2028c", { keepNewlines: true })).toBe("a\nb\nc");
  });

  it("plainText collapses whitespace for titles and keeps lines for messages when asked", () => {
    expect(plainText("a\n\n  b\tc", 100)).toBe("a b c");
    expect(plainText("a\n\n\n\nb", 100, { keepNewlines: true })).toBe("a\n\nb");
  });
});

describe("safeUrl", () => {
  it("refuses anything but http and https", () => {
    expect(() => safeUrl("javascript:alert(1)")).toThrow(ConfigurationError);
    expect(() => safeUrl("not a url")).toThrow(/not a URL/);
  });

  it("percent-encodes what would end a markdown link or a table cell", () => {
    expect(safeUrl("https://github.com/o/r/actions/runs/1?x=(a)|b")).toBe(
      "https://github.com/o/r/actions/runs/1?x=%28a%29%7Cb",
    );
  });
});
