// The devices page (health, quarantines and why, temperature and throttling per night) and the
// releases page (each release commit's .pte files with their figures). Both load one data file.

(() => {
  const { load, el, day, num, header, fail, cssVar } = window.PteFarm;
  const main = document.getElementById("main");
  const page = document.body.dataset.page;
  document.body.prepend(header(page));
  const HEALTH = {
    good: ["pass", "✓ good"],
    unknown: ["inconclusive", "? unknown"],
    bad: ["regression", "✗ bad"],
    maintenance: ["skipped", "– maintenance"],
  };

  function thermalChart(node, d) {
    const axis = {
      stroke: cssVar("--fg"),
      grid: { stroke: cssVar("--line"), width: 1 },
      ticks: { stroke: cssVar("--line") },
    };
    return new window.uPlot(
      {
        width: Math.max(280, node.clientWidth),
        height: 180,
        scales: { x: { time: true }, reps: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        series: [
          {},
          {
            label: "hottest reading (°C)",
            stroke: cssVar("--chart-confirmed"),
            width: 1.25,
            spanGaps: true,
            points: { show: false },
          },
          {
            label: "flagged reps",
            stroke: cssVar("--chart-flagged"),
            scale: "reps",
            width: 1,
            points: { show: false },
          },
        ],
        axes: [
          axis,
          { ...axis, label: "°C", size: 50 },
          { ...axis, side: 1, scale: "reps", label: "flagged reps", grid: { show: false } },
        ],
      },
      [d.thermal.t, d.thermal.max_c, d.thermal.flagged],
      node,
    );
  }

  function devices(data) {
    const rows = data.devices.map((d) => {
      const [cls, text] = HEALTH[d.health?.state] ?? ["skipped", "never checked"];
      return el(
        "tr",
        { "data-device": d.device, "data-quarantined": String(d.quarantined) },
        el("th", { scope: "row" }, d.device, d.emulated ? " (emulated)" : ""),
        el(
          "td",
          {},
          el("span", { class: `badge s-${cls}` }, text),
          d.health ? ` ${day(d.health.checked_at)}` : "",
        ),
        el(
          "td",
          {},
          d.quarantined ? el("span", { class: "badge s-quarantined" }, "⊘ quarantined") : "in service",
          d.reason ? ` — ${d.reason}` : "",
        ),
        el("td", {}, String(d.infra_streak)),
        el("td", {}, String(d.cells)),
      );
    });
    const sections = data.devices.map((d) => {
      const flagged = d.thermal.flagged.reduce((a, b) => a + b, 0);
      const reps = d.thermal.reps.reduce((a, b) => a + b, 0);
      return el(
        "section",
        { "aria-label": d.device },
        el("h2", {}, d.device),
        el(
          "p",
          { class: "muted" },
          `${flagged} of ${reps} decode reps flagged hot or throttled over ${d.thermal.t.length} nights.`,
        ),
        el(
          "figure",
          { class: "chart", "data-device": d.device },
          el("figcaption", {}, `${d.device}: hottest reading and flagged reps per night`),
          el("div", { class: "plot" }),
        ),
        d.reports.length === 0
          ? el("p", { class: "muted" }, "No health report stored.")
          : el(
              "ul",
              {},
              ...d.reports.map((r) =>
                el("li", {}, `${day(r.checked_at)} ${r.state}${r.detail ? `: ${r.detail}` : ""}`),
              ),
            ),
      );
    });
    main.replaceChildren(
      el("h1", {}, "Devices"),
      el(
        "table",
        { class: "data" },
        el(
          "caption",
          { class: "muted" },
          "Health and quarantine, derived from the stored health reports and runs (the rules the plan skips devices by)",
        ),
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ...["device", "health", "quarantine", "infra errors in a row", "cells"].map((h) =>
              el("th", { scope: "col" }, h),
            ),
          ),
        ),
        el("tbody", {}, ...rows),
      ),
      ...sections,
    );
    const draw = () => {
      for (const fig of main.querySelectorAll("figure.chart")) {
        const plot = fig.querySelector(".plot");
        plot.replaceChildren();
        const d = data.devices.find((x) => x.device === fig.dataset.device);
        if (d && d.thermal.t.length > 0) thermalChart(plot, d);
      }
    };
    draw();
    window.addEventListener("pte-farm-theme", draw);
  }

  function releases(data) {
    main.replaceChildren(
      el("h1", {}, "Releases"),
      data.releases.length === 0
        ? el("p", { class: "muted" }, "No release records in the history.")
        : el(
            "div",
            {},
            ...data.releases.map((r) =>
              el(
                "section",
                { "data-commit": r.git_sha ?? "" },
                el("h2", {}, `Commit ${r.git_sha ? r.git_sha.slice(0, 12) : "unknown"} · ${day(r.night)}`),
                el(
                  "table",
                  { class: "data" },
                  el(
                    "caption",
                    { class: "muted" },
                    `${r.files.length} .pte file(s) with their release figures`,
                  ),
                  el(
                    "thead",
                    {},
                    el(
                      "tr",
                      {},
                      ...["cell", ".pte sha256", "bytes", "decode tok/s", "gate"].map((h) =>
                        el("th", { scope: "col" }, h),
                      ),
                    ),
                  ),
                  el(
                    "tbody",
                    {},
                    ...r.files.map((f) =>
                      el(
                        "tr",
                        {},
                        el(
                          "td",
                          {},
                          el("a", { href: `cell.html?cell=${encodeURIComponent(f.cell)}` }, f.cell),
                        ),
                        el("td", {}, el("code", {}, f.sha256 ?? "—")),
                        el("td", {}, f.bytes === null ? "—" : f.bytes.toLocaleString("en")),
                        el("td", {}, num(f.decode)),
                        el("td", {}, f.gate),
                      ),
                    ),
                  ),
                ),
              ),
            ),
          ),
    );
  }

  load(page, `data/${page}.js`)
    .then((data) => {
      if (page === "devices") devices(data);
      else releases(data);
      document.body.dataset.ready = "true";
      performance.mark("pte-farm-ready");
    })
    .catch((err) => fail(main, err));
})();
