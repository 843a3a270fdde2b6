// Shared by every page of the pte-farm dashboard: loading data files, building DOM from data as
// text (never as markup: names and error text come from run records, which a fork's PR can
// shape), the state names, the theme, and the navigation. Classic scripts, not modules: a module
// cannot load from file://, and the site must open from disk as well as from GitHub Pages.

(() => {
  const waiting = new Map();

  // The data files call this: pteFarmData("cell", {...}).
  window.pteFarmData = (kind, data) => {
    const done = waiting.get(kind);
    if (done !== undefined) {
      waiting.delete(kind);
      done(data);
    }
  };

  /** Loads a data file by a script tag (fetch is refused on file://); resolves with its payload. */
  function load(kind, src) {
    return new Promise((resolve, reject) => {
      waiting.set(kind, resolve);
      const s = document.createElement("script");
      s.src = src;
      s.onerror = () => {
        waiting.delete(kind);
        reject(new Error(`could not load ${src}`));
      };
      document.head.appendChild(s);
    });
  }

  /**
   * An element with attributes and children; strings become text nodes, so nothing from a record
   * is ever parsed as HTML. Attribute names come from this code only.
   */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = String(v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  /** The data file name of a cell id: the same as reports/dashboard/model.ts cellKey. */
  function cellKey(id) {
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) {
      h ^= id.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return `${id.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80)}-${h.toString(16).padStart(8, "0")}`;
  }

  /** Each state's words and symbol: the squares show them with the colour, never colour alone. */
  const STATES = {
    regression: { name: "regression", symbol: "▼" },
    "gate-failed": { name: "gate failed", symbol: "✗" },
    "stage-failed": { name: "stage failed", symbol: "✗" },
    infra: { name: "infrastructure", symbol: "⚠" },
    quarantined: { name: "quarantined", symbol: "⊘" },
    inconclusive: { name: "inconclusive", symbol: "?" },
    skipped: { name: "skipped", symbol: "–" },
    pass: { name: "pass", symbol: "✓" },
  };

  const day = (iso) => (iso ? String(iso).slice(0, 10) : "—");
  const num = (x) =>
    x === null || x === undefined ? "—" : Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4);
  const pct = (ratio) => `${ratio >= 1 ? "+" : "−"}${(Math.abs(ratio - 1) * 100).toFixed(1)}%`;

  const THEME_KEY = "pte-farm-theme";
  function theme() {
    try {
      return localStorage.getItem(THEME_KEY) ?? "auto";
    } catch {
      return "auto";
    }
  }
  function applyTheme(t) {
    document.documentElement.dataset.theme = t;
  }
  applyTheme(theme());

  /** The page header: site navigation and the light/dark switch. */
  function header(current) {
    const link = (href, text, page) =>
      el("a", { href, "aria-current": page === current ? "page" : null }, text);
    const button = el("button", { type: "button", id: "theme", title: "switch the colour theme" });
    const names = { auto: "theme: system", light: "theme: light", dark: "theme: dark" };
    const show = () => {
      button.textContent = names[theme()] ?? names.auto;
    };
    show();
    button.addEventListener("click", () => {
      const next = { auto: "dark", dark: "light", light: "auto" }[theme()] ?? "auto";
      try {
        localStorage.setItem(THEME_KEY, next);
      } catch {}
      applyTheme(next);
      show();
      window.dispatchEvent(new Event("pte-farm-theme"));
    });
    return el(
      "header",
      { class: "site" },
      el("span", { class: "brand" }, "pte-farm"),
      el(
        "nav",
        { "aria-label": "dashboard" },
        link("index.html", "Farm", "overview"),
        link("devices.html", "Devices", "devices"),
        link("releases.html", "Releases", "releases"),
        link("upstream.html", "Upstream", "upstream"),
      ),
      button,
    );
  }

  /** A canary's state in words (the states of canaries/verdicts.ts canaryState). */
  const CANARY = {
    reproduces: "✗ reproduces",
    "reproduces-outside-range": "✗ reproduces outside its applies_to range",
    "no-longer-reproduces": "✓ no longer reproduces: possibly fixed upstream",
    "fails-differently": "✗ fails differently",
    infrastructure: "⚠ infrastructure: no verdict",
  };

  /** A bisection's answer in words (the bisect record's verdict and release range). */
  function bisectAnswer(b) {
    if (b.verdict === "found") {
      const also = b.untestable.length === 0 ? "" : ` (or one of ${b.untestable.join(", ")}, untestable)`;
      return `${b.package} ${b.first_bad} first breaks it${also}; last good ${b.package} ${b.last_good}`;
    }
    if (b.verdict === "interaction") return "no single package: it needs several moved together";
    return "inconclusive: infrastructure";
  }

  /** A bisection's answer (with its reproduce command), its two toolchains and its evidence, as cells. */
  function bisectCells(b) {
    return [
      el(
        "td",
        {},
        el("strong", {}, bisectAnswer(b)),
        el("details", {}, el("summary", {}, "reproduce"), el("pre", {}, el("code", {}, b.reproduce))),
      ),
      el("td", {}, `${b.good.toolchain} (${b.good.versions}) → ${b.bad.toolchain} (${b.bad.versions})`),
      el("td", {}, b.evidence.stage ? `${b.evidence.stage}: ${b.evidence.detail}` : b.evidence.detail),
    ];
  }

  /** A data table: caption, column heads, body rows. */
  function table(caption, heads, rows) {
    return el(
      "table",
      { class: "data" },
      el("caption", { class: "muted" }, caption),
      el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows),
    );
  }

  /** A visible error in place of the page's content. */
  function fail(main, err) {
    main.replaceChildren(el("p", { class: "error", role: "alert" }, String(err?.message ?? err)));
  }

  /** A CSS custom property's value (chart colours follow the theme). */
  const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  window.PteFarm = {
    load,
    el,
    cellKey,
    STATES,
    day,
    num,
    pct,
    header,
    fail,
    cssVar,
    bisectCells,
    table,
    CANARY,
  };
})();
