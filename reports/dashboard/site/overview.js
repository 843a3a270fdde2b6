// The farm overview: one row per model/recipe/backend, one column per device@toolchain, each
// square the cell's latest state in colour and words. Filters (model, device, toolchain, state)
// live in the URL, so a link restores the view; arrow keys move between squares.

(() => {
  const { load, el, STATES, day, header, fail } = window.PteFarm;
  const FILTERS = ["model", "device", "toolchain", "state"];
  const main = document.getElementById("main");
  document.body.prepend(header("overview"));

  function readFilters() {
    const q = new URLSearchParams(location.search);
    return Object.fromEntries(FILTERS.map((f) => [f, q.get(f) ?? ""]));
  }

  function writeFilters(filters) {
    const q = new URLSearchParams();
    for (const f of FILTERS) if (filters[f] !== "") q.set(f, filters[f]);
    const search = q.toString();
    history.replaceState(null, "", search === "" ? location.pathname : `?${search}`);
  }

  const matches = (c, filters, skip) =>
    FILTERS.every((f) => f === skip || filters[f] === "" || c[f] === filters[f]);

  function countBy(cells, key) {
    const out = new Map();
    for (const c of cells) out.set(c[key], (out.get(c[key]) ?? 0) + 1);
    return out;
  }

  function render(data, filters) {
    const shown = data.cells.filter((c) => matches(c, filters));
    // Counts on top: each state among the cells the other filters leave; a button filters by it.
    const byState = countBy(
      data.cells.filter((c) => matches(c, filters, "state")),
      "state",
    );
    const counts = el(
      "div",
      { class: "counts", role: "group", "aria-label": "cells by state" },
      el("strong", {}, `${shown.length} of ${data.cells.length} cells`),
      ...Object.entries(STATES).map(([state, s]) => {
        const n = byState.get(state) ?? 0;
        const b = el(
          "button",
          {
            type: "button",
            id: `count-${state}`,
            class: `badge s-${state}`,
            "data-state": state,
            "aria-pressed": filters.state === state ? "true" : "false",
          },
          `${s.symbol} ${s.name}: ${n}`,
        );
        b.addEventListener("click", () =>
          update({ ...filters, state: filters.state === state ? "" : state }, `count-${state}`),
        );
        return b;
      }),
    );

    const selects = FILTERS.map((f) => {
      const options = countBy(
        data.cells.filter((c) => matches(c, filters, f)),
        f,
      );
      const values = [...new Set(data.cells.map((c) => c[f]))].sort();
      const select = el(
        "select",
        { id: `filter-${f}`, name: f },
        el("option", { value: "" }, `all (${[...options.values()].reduce((a, b) => a + b, 0)})`),
        ...values.map((v) =>
          el(
            "option",
            { value: v, selected: v === filters[f] },
            `${f === "state" ? (STATES[v]?.name ?? v) : v} (${options.get(v) ?? 0})`,
          ),
        ),
      );
      select.addEventListener("change", () => update({ ...filters, [f]: select.value }, `filter-${f}`));
      return el("label", {}, `${f}`, select);
    });
    const reset = el("button", { type: "button" }, "clear filters");
    reset.addEventListener("click", () => update({ model: "", device: "", toolchain: "", state: "" }));

    const rows = [...new Set(shown.map((c) => c.row))].sort();
    const cols = [...new Set(shown.map((c) => c.col))].sort((a, b) => {
      const [da, ta] = a.split("@");
      const [db, tb] = b.split("@");
      return ta.localeCompare(tb) || da.localeCompare(db);
    });
    const at = new Map(shown.map((c) => [`${c.row}\u0000${c.col}`, c]));
    const table = el(
      "table",
      { class: "grid", "aria-label": "latest state of every cell" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", { scope: "col" }, "model / recipe / backend"),
          ...cols.map((c) => el("th", { scope: "col" }, c)),
        ),
      ),
      el(
        "tbody",
        {},
        ...rows.map((row, r) =>
          el(
            "tr",
            {},
            el("th", { scope: "row", title: row }, row),
            ...cols.map((col, k) => {
              const c = at.get(`${row}\u0000${col}`);
              if (c === undefined)
                return el("td", {}, el("span", { class: "muted", "aria-label": "no such cell" }, "·"));
              const s = STATES[c.state] ?? { name: c.state, symbol: "" };
              return el(
                "td",
                {},
                el(
                  "a",
                  {
                    class: `sq s-${c.state}`,
                    href: `cell.html?cell=${encodeURIComponent(c.id)}`,
                    "data-cell": c.id,
                    "data-state": c.state,
                    "data-r": r,
                    "data-c": k,
                    tabindex: "-1",
                    title: `${c.id}\n${s.name}: ${c.detail}\nlatest ${day(c.latest)}`,
                    "aria-label": `${c.id}: ${s.name}, ${c.label}`,
                  },
                  `${s.symbol} ${c.label}`,
                ),
              );
            }),
          ),
        ),
      ),
    );
    const first = table.querySelector("a.sq");
    if (first !== null) first.tabIndex = 0;
    table.addEventListener("keydown", (e) => move(table, e));

    main.replaceChildren(
      el("h1", {}, "Farm overview"),
      el(
        "p",
        { class: "muted" },
        `Latest night ${day(data.latest_night)} · ${data.records.toLocaleString("en")} run records · built ${day(data.generated_at)}. `,
        "Arrow keys move between cells; Enter opens one.",
      ),
      counts,
      el("div", { class: "filters" }, ...selects, reset),
      shown.length === 0
        ? el("p", {}, "No cell matches these filters.")
        : el("div", { class: "grid-wrap" }, table),
    );
  }

  /** Arrow keys, Home and End move focus between squares (one tab stop for the whole grid). */
  function move(table, e) {
    const a = e.target.closest?.("a.sq");
    if (a === null || a === undefined) return;
    const r = Number(a.dataset.r);
    const c = Number(a.dataset.c);
    const delta = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[e.key];
    const all = [...table.querySelectorAll("a.sq")];
    let next = null;
    if (delta !== undefined) {
      // The nearest square in that direction (a combination may have no cell).
      for (let step = 1; step < 200 && next === null; step++) {
        const [nr, nc] = [r + delta[0] * step, c + delta[1] * step];
        next = all.find((x) => Number(x.dataset.r) === nr && Number(x.dataset.c) === nc) ?? null;
        if (nr < 0 || nc < 0) break;
      }
    } else if (e.key === "Home") next = all[0];
    else if (e.key === "End") next = all.at(-1);
    else return;
    e.preventDefault();
    if (next === null || next === undefined) return;
    a.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }

  let data = null;
  /** Shows `filters` and puts them in the URL; focus stays on the control that changed them. */
  function update(filters, focusId) {
    writeFilters(filters);
    render(data, filters);
    if (focusId !== undefined) document.getElementById(focusId)?.focus();
  }

  load("overview", "data/overview.js")
    .then((d) => {
      data = d;
      render(data, readFilters());
      document.body.dataset.ready = "true";
      performance.mark("pte-farm-ready");
    })
    .catch((err) => fail(main, err));
  window.addEventListener("popstate", () => data && render(data, readFilters()));
})();
