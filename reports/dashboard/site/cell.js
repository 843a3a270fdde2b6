// A cell's page: its history, loaded from the cell's own data file when the page opens. Charts are
// uPlot (made for long time series: thousands of nights draw in milliseconds); the change points
// and toolchain changes are marked on uPlot's overlay at the positions its scale gives.
// The URL holds the cell and the time range (?cell=ID&range=365), so a link restores the view.

(() => {
  const { load, el, STATES, day, num, pct, header, fail, cssVar, cellKey, bisectCells, table, CANARY } =
    window.PteFarm;
  const main = document.getElementById("main");
  document.body.prepend(header("cell"));
  const NAMES = {
    decode_tokens_per_sec: "Decode",
    prefill_tokens_per_sec: "Prefill",
    first_token_ms: "First token",
    peak_rss_mb: "Peak RSS",
  };
  const RANGES = [
    ["all", "all nights"],
    ["365", "last year"],
    ["90", "last 90 nights"],
  ];
  const DAY_S = 86400;
  const params = new URLSearchParams(location.search);
  const id = params.get("cell");
  let range = RANGES.some(([r]) => r === params.get("range")) ? params.get("range") : "all";
  const charts = {};
  window.pteFarmCharts = charts;

  const secondsOf = (iso) => Math.round(Date.parse(iso) / 1000);
  const short = (sha) => (sha ? String(sha).slice(0, 8) : "?");

  function facts(d) {
    const items = [
      ["latest night", day(d.cell.latest)],
      [
        "nights",
        Object.entries(d.statuses)
          .map(([s, n]) => `${n} ${s}`)
          .join(", "),
      ],
      ["reproduce", el("pre", {}, el("code", { id: "reproduce" }, d.reproduce))],
    ];
    if (d.issues_url) items.push(["nightly issues", el("a", { href: d.issues_url }, "this cell's issues")]);
    return el("dl", { class: "facts" }, ...items.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  function changeRows(d) {
    return d.change_points.map((cp) =>
      el(
        "tr",
        { "data-metric": cp.metric, "data-night": day(cp.night), "data-kind": cp.kind },
        el("td", {}, NAMES[cp.metric] ?? cp.metric),
        el("td", {}, day(cp.night)),
        el(
          "td",
          {},
          cp.kind === "regression"
            ? `▼ regression, ${cp.confirmed ? "confirmed" : "candidate"}`
            : `▲ improvement${cp.confirmed ? "" : " (candidate)"}`,
        ),
        el("td", {}, `${num(cp.before)} → ${num(cp.after)} (${pct(cp.ratio)})`),
        el(
          "td",
          {},
          d.repo_url && cp.commits.from && cp.commits.to
            ? el(
                "a",
                { href: `${d.repo_url}/compare/${cp.commits.from}...${cp.commits.to}` },
                `${short(cp.commits.from)}..${short(cp.commits.to)}`,
              )
            : `${short(cp.commits.from)}..${short(cp.commits.to)}`,
        ),
        el("td", {}, cp.p_value < 0.001 ? "< 0.001" : cp.p_value.toPrecision(2)),
        el("td", {}, cp.why),
      ),
    );
  }

  /** The uPlot data of a metric: nights (and nights with flagged reps only), median, band, flagged reps. */
  function chartData(m) {
    const byT = new Map();
    for (const [t, v] of m.flagged) byT.set(t, [...(byT.get(t) ?? []), v]);
    const xs = [...new Set([...m.t, ...byT.keys()])].sort((a, b) => a - b);
    const at = new Map(m.t.map((t, i) => [t, i]));
    const pick = (arr) =>
      xs.map((t) => {
        const i = at.get(t);
        return i === undefined ? null : arr[i];
      });
    const most = Math.min(6, Math.max(0, ...[...byT.values()].map((v) => v.length)));
    const flagged = Array.from({ length: most }, (_, k) => xs.map((t) => byT.get(t)?.[k] ?? null));
    return [xs, pick(m.median), pick(m.lo), pick(m.hi), ...flagged];
  }

  function placeMarks(u, marks) {
    const width = u.over.clientWidth;
    for (const { node, t } of marks) {
      const x = u.valToPos(t, "x");
      node.style.left = `${x}px`;
      node.hidden = !(x >= 0 && x <= width);
    }
  }

  function chart(fig, metric, m, d) {
    const data = chartData(m);
    const flaggedSeries = data.length - 4;
    const series = [
      {},
      {
        label: "nightly median",
        stroke: cssVar("--chart-median"),
        width: 1.5,
        spanGaps: true,
        points: { show: false },
      },
      { label: "95% CI low", stroke: cssVar("--chart-band"), width: 0, points: { show: false } },
      { label: "95% CI high", stroke: cssVar("--chart-band"), width: 0, points: { show: false } },
      ...Array.from({ length: flaggedSeries }, (_, k) => ({
        label: k === 0 ? "flagged rep (hot/throttled)" : `flagged rep ${k + 1}`,
        stroke: cssVar("--chart-flagged"),
        fill: cssVar("--chart-flagged"),
        paths: () => null,
        points: { show: true, size: 5, fill: cssVar("--chart-flagged") },
        show: true,
      })),
    ];
    const axis = {
      stroke: cssVar("--fg"),
      grid: { stroke: cssVar("--line"), width: 1 },
      ticks: { stroke: cssVar("--line") },
    };
    const marks = [];
    const opts = {
      width: Math.max(280, fig.clientWidth),
      height: 220,
      scales: { x: { time: true } },
      series,
      bands: [{ series: [3, 2], fill: cssVar("--chart-band") }],
      axes: [axis, { ...axis, label: m.unit, size: 60 }],
      cursor: { sync: { key: "cell" } },
      legend: { live: true },
      hooks: {
        ready: [
          (u) => {
            for (const cp of d.change_points.filter((c) => c.metric === metric)) {
              const kind =
                cp.kind === "improvement" ? "improvement" : cp.confirmed ? "confirmed" : "candidate";
              const text = `${cp.kind === "regression" ? "▼" : "▲"} ${kind === "improvement" ? "" : `${kind} `}${pct(cp.ratio)}`;
              const node = el(
                "div",
                { class: `mark ${kind}`, "data-night": day(cp.night), "data-kind": kind },
                el("span", {}, text),
              );
              u.over.append(node);
              marks.push({ node, t: secondsOf(cp.night) });
            }
            for (const tc of d.toolchain_changes) {
              const node = el(
                "div",
                { class: "mark toolchain", "data-night": day(tc.night), title: tc.changes.join(", ") },
                el("span", {}, "⚙"),
              );
              u.over.append(node);
              marks.push({ node, t: tc.t });
            }
            placeMarks(u, marks);
          },
        ],
        setScale: [(u) => placeMarks(u, marks)],
        setSize: [(u) => placeMarks(u, marks)],
      },
    };
    const u = new window.uPlot(opts, data, fig.querySelector(".plot"));
    charts[metric] = u;
    return u;
  }

  function applyRange(d) {
    const last = Math.max(...Object.values(d.metrics).map((m) => m.t.at(-1) ?? 0));
    for (const u of Object.values(charts)) {
      const xs = u.data[0];
      const min = range === "all" ? xs[0] : Math.max(xs[0], last - Number(range) * DAY_S);
      u.setScale("x", { min, max: xs.at(-1) });
    }
    for (const b of document.querySelectorAll(".range button"))
      b.setAttribute("aria-pressed", String(b.dataset.range === range));
  }

  function drawCharts(d) {
    for (const [metric, u] of Object.entries(charts)) {
      u.destroy();
      delete charts[metric];
    }
    for (const fig of document.querySelectorAll("figure.chart")) {
      const metric = fig.dataset.metric;
      chart(fig, metric, d.metrics[metric], d);
    }
    applyRange(d);
  }

  function render(d) {
    const s = STATES[d.cell.state] ?? { name: d.cell.state, symbol: "" };
    document.title = `${d.cell.id} · pte-farm`;
    const rangeButtons = RANGES.map(([r, text]) => {
      const b = el("button", { type: "button", "data-range": r, "aria-pressed": String(r === range) }, text);
      b.addEventListener("click", () => {
        range = r;
        const q = new URLSearchParams(location.search);
        if (r === "all") q.delete("range");
        else q.set("range", r);
        history.replaceState(null, "", `?${q}`);
        applyRange(d);
      });
      return b;
    });
    const figures = Object.entries(d.metrics).map(([metric, m]) =>
      el(
        "figure",
        { class: "chart", "data-metric": metric },
        el(
          "figcaption",
          {},
          `${NAMES[metric] ?? metric} (${m.unit}, ${m.better} is better): nightly median and its 95% interval, ${m.t.length} nights`,
        ),
        el("div", { class: "plot" }),
      ),
    );
    const emulated = d.emulated
      ? el(
          "p",
          { class: "badge s-inconclusive" },
          "Emulated device: tokens count, timings are QEMU's and give no speed verdict.",
        )
      : null;
    const parts = [
      el("p", {}, el("a", { href: "index.html" }, "← farm overview")),
      el("h1", { id: "cell-id" }, d.cell.id),
      el(
        "p",
        {},
        el(
          "span",
          { id: "state", class: `badge s-${d.cell.state}` },
          `${s.symbol} ${s.name}: ${d.cell.label}`,
        ),
        " ",
        el("span", { id: "detail" }, d.cell.detail),
      ),
      emulated,
      facts(d),
      el("h2", {}, "Over time"),
      el("div", { class: "range", role: "group", "aria-label": "time range" }, "Show ", ...rangeButtons),
      figures.length === 0 ? el("p", { class: "muted" }, "No timed nights to chart.") : null,
      ...figures,
      el("h2", {}, "Change points"),
      d.change_points.length === 0
        ? el("p", { class: "muted" }, "None found in any metric.")
        : table(
            "Change points (candidates are waiting for the nights that confirm them)",
            ["metric", "first night", "kind", "median", "commits", "p", "why"],
            changeRows(d),
          ),
      el("h2", {}, "Toolchain changes"),
      d.toolchain_changes.length === 0
        ? el("p", { class: "muted" }, "The toolchain's versions did not change.")
        : table(
            "Nights whose versions differ from the night before",
            ["night", "changes"],
            d.toolchain_changes.map((c) =>
              el("tr", {}, el("td", {}, day(c.night)), el("td", {}, c.changes.join(", "))),
            ),
          ),
      el("h2", {}, "Gate"),
      table(
        "Runs of nights with one verdict, newest last",
        ["from", "to", "nights", "verdict", "first divergence"],
        d.gate.map((g) =>
          el(
            "tr",
            { "data-verdict": g.verdict },
            el("td", {}, day(g.from)),
            el("td", {}, day(g.to)),
            el("td", {}, g.nights),
            el("td", {}, g.verdict),
            el("td", {}, g.first_divergence ?? "—"),
          ),
        ),
      ),
      el("h2", {}, "Known issues"),
      d.known_issues.length === 0
        ? el("p", { class: "muted" }, "No known issue matched a failure of this cell.")
        : el(
            "ul",
            {},
            ...d.known_issues.map((k) =>
              el(
                "li",
                {},
                el("code", {}, k.id),
                ` — ${k.nights} night(s), ${day(k.first)} to ${day(k.last)}: ${k.triage}`,
              ),
            ),
          ),
      d.cell.canary
        ? el(
            "section",
            { "aria-label": "canary", id: "canary" },
            el("h2", {}, "Canary"),
            el(
              "p",
              {},
              "This cell is the canary of known issue ",
              el("code", {}, d.cell.canary.known_issue),
              ` (expected to fail at ${d.cell.canary.stage}): `,
              el("strong", {}, CANARY[d.cell.canary.state] ?? d.cell.canary.state),
              ` since ${day(d.cell.canary.since)}, ${d.cell.canary.nights} night(s) run. `,
              el("a", { href: "upstream.html#canaries" }, "All canaries"),
            ),
          )
        : null,
      el("h2", {}, "Bisections"),
      d.bisects.length === 0
        ? el("p", { class: "muted" }, "farm-upstream has not bisected this cell.")
        : table(
            "Which package and release first broke this cell (farm-upstream), newest first",
            ["started", "answer", "between", "evidence"],
            d.bisects.map((b) =>
              el("tr", { "data-verdict": b.verdict }, el("td", {}, day(b.started_at)), ...bisectCells(b)),
            ),
          ),
      el("h2", {}, "Run records"),
      table(
        "The newest records, newest first",
        ["night", "role", "status", "commit", "record"],
        d.records.map((r) =>
          el(
            "tr",
            {},
            el("td", {}, day(r.night)),
            el("td", {}, r.role),
            el("td", {}, r.status),
            el("td", {}, short(r.git_sha)),
            el("td", {}, el("a", { href: r.url }, r.id)),
          ),
        ),
      ),
    ];
    main.replaceChildren(...parts.filter((p) => p !== null));
    drawCharts(d);
    window.addEventListener("pte-farm-theme", () => drawCharts(d));
    let pending = 0;
    window.addEventListener("resize", () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => {
        for (const fig of document.querySelectorAll("figure.chart"))
          charts[fig.dataset.metric]?.setSize({ width: Math.max(280, fig.clientWidth), height: 220 });
      });
    });
    document.body.dataset.ready = "true";
    performance.mark("pte-farm-ready");
  }

  if (id === null || id === "")
    fail(main, new Error("No cell named: open one from the farm overview (cell.html?cell=ID)."));
  else
    load("cell", `data/cells/${cellKey(id)}.js`)
      .then(render)
      .catch(() =>
        fail(main, new Error(`No data for cell ${id}: it is not in this build of the dashboard.`)),
      );
})();
