// The upstream page: what farm-upstream adds to the history. Each toolchain channel's cells and
// their states (linked to the overview filtered by it), each canary's known issue on every
// toolchain (still reproduces, or possibly fixed upstream), and each bisection: which package and
// release first broke which cell. One data file, data/upstream.js.

(() => {
  const { load, el, STATES, day, header, fail, bisectCells, table, CANARY } = window.PteFarm;
  const main = document.getElementById("main");
  document.body.prepend(header("upstream"));
  const CANARY_CLASS = {
    reproduces: "stage-failed",
    "reproduces-outside-range": "stage-failed",
    "no-longer-reproduces": "pass",
    "fails-differently": "gate-failed",
    infrastructure: "infra",
  };

  const cellLink = (id) => el("a", { href: `cell.html?cell=${encodeURIComponent(id)}` }, id);

  function channels(data) {
    if (data.channels.length === 0)
      return el("p", { class: "muted" }, "No cell of a channel toolchain in the history yet.");
    return table(
      "The cells each channel (the newest upstream releases, resolved nightly) ran, by their latest state",
      ["toolchain", "cells", "states", "latest night"],
      data.channels.map((c) =>
        el(
          "tr",
          { "data-toolchain": c.toolchain },
          el(
            "th",
            { scope: "row" },
            el("a", { href: `index.html?toolchain=${encodeURIComponent(c.toolchain)}` }, c.toolchain),
          ),
          el("td", {}, String(c.cells)),
          el(
            "td",
            {},
            ...Object.entries(c.states).flatMap(([s, n]) => [
              el(
                "span",
                { class: `badge s-${s}` },
                `${STATES[s]?.symbol ?? ""} ${n} ${STATES[s]?.name ?? s}`,
              ),
              " ",
            ]),
          ),
          el("td", {}, day(c.latest)),
        ),
      ),
    );
  }

  function canaries(data) {
    if (data.canaries.length === 0)
      return el("p", { class: "muted" }, "No canary has run yet (pte-farm canaries, in farm-upstream).");
    return table(
      "Each known issue's canary on each toolchain: a canary that stops reproducing means possibly fixed upstream",
      ["known issue", "toolchain", "state", "since", "nights", "cell"],
      data.canaries.map((c) =>
        el(
          "tr",
          { "data-issue": c.known_issue, "data-toolchain": c.toolchain, "data-state": c.state },
          el("th", { scope: "row" }, el("code", {}, c.known_issue), c.title ? ` — ${c.title}` : ""),
          el("td", {}, c.toolchain),
          el(
            "td",
            {},
            el(
              "span",
              { class: `badge s-${CANARY_CLASS[c.state] ?? "skipped"}` },
              CANARY[c.state] ?? c.state,
            ),
          ),
          el("td", {}, day(c.since)),
          el("td", {}, String(c.nights)),
          el("td", {}, cellLink(c.cell)),
        ),
      ),
    );
  }

  function bisects(data) {
    if (data.bisects.length === 0)
      return el(
        "p",
        { class: "muted" },
        "No bisection stored (farm-upstream bisects each new failure of a channel).",
      );
    return table(
      "Which package and release first broke a cell, newest first",
      ["started", "subject", "answer", "between", "evidence", "environments"],
      data.bisects.map((b) =>
        el(
          "tr",
          { "data-verdict": b.verdict, "data-cell": b.cell ?? "" },
          el("td", {}, day(b.started_at)),
          el("td", {}, b.key ? cellLink(b.cell) : b.subject, b.metric ? ` (${b.metric})` : ""),
          ...bisectCells(b),
          el("td", {}, `${b.builds} built, ${b.released_between} release(s) between`),
        ),
      ),
    );
  }

  load("upstream", "data/upstream.js")
    .then((data) => {
      main.replaceChildren(
        el("h1", {}, "Upstream"),
        el(
          "p",
          { class: "muted" },
          "What farm-upstream found in the newest upstream releases: the channels' cells, the known issues' canaries, and the bisections of each new failure.",
        ),
        el("h2", { id: "channels" }, "Channels"),
        channels(data),
        el("h2", { id: "canaries" }, "Canaries"),
        canaries(data),
        el("h2", { id: "bisections" }, "Bisections"),
        bisects(data),
      );
      document.body.dataset.ready = "true";
      performance.mark("pte-farm-ready");
    })
    .catch((err) => fail(main, err));
})();
