/**
 * Text an artefact from a hostile fork could put in a model name, a cell id, a device name or an
 * error message: markdown and HTML injection, mentions, references, links, fences, control and
 * bidi characters, and multibyte text.
 */
export const ADVERSARIAL = [
  "a | b | c",
  "<img src=x onerror=alert(1)>",
  "<script>alert(document.cookie)</script>",
  "@octocat please look, cc @github/security-team",
  "[click me](javascript:alert(1))",
  "![pixel](https://evil.example/track.png)",
  "</details></summary><details open><summary>fake",
  "</td></tr><tr><td>injected row",
  "```\n# not a heading\n```",
  "````` five backticks `` and ` one",
  "**bold** _it_ ~~strike~~ `code` <b>b</b>",
  "# heading",
  "- list item",
  "+ list item",
  "1. ordered",
  "> quote",
  "---",
  "see #123, org/repo#45 and GH-7",
  "https://evil.example/login www.evil.example mail@evil.example",
  "line one\nline two\r\n| injected | row |",
  "&lt;script&gt; &amp; &#64;octocat &#x40;octocat",
  "$x^2$ and $$\\int_0^1$$ and $`a`$",
  "\\| \\\\| trailing backslash \\",
  "<!-- pte-farm:bench -->",
  "[^1] and [ ] task and :shipit:",
  "\u202eevil\u202c nul\u0000 bell\u0007 esc\u001b[31m",
  "模型名称 😀 👨‍👩‍👧 e\u0301",
];
