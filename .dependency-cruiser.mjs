/**
 * The import rules of pte-farm, checked by `make lint`:
 *
 *   npx depcruise --config .dependency-cruiser.mjs actions/src matrix reports scripts
 *
 * Imports point down: the edges (the CLI in actions/src/cli, the actions' run() functions in
 * actions/src/action-runs, the bundle entries in actions/src/entries, scripts/ and tests/) call the
 * domain folders, which call core/; never the other way. tests/source-rules.test.ts runs this config
 * on a fixture that breaks every rule, so a rule that stopped matching would fail there.
 *
 * The parser is swc, not tsc: dependency-cruiser reads TypeScript through TypeScript's JS API, which
 * typescript 7 (the Go compiler we pin) does not ship. swc parses the .ts sources as written, so
 * `import type` counts too (a type-only circle is still a circle for a reader).
 */
const EDGES = "^(scripts|tests)/";

export default {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import circle: split the shared part (often the types) into its own file.",
      severity: "error",
      from: { path: "^(actions/src|matrix|reports|scripts)/" },
      to: { circular: true },
    },
    {
      name: "no-cli-from-outside",
      comment: "Only the CLI imports actions/src/cli/: move what the importer needs into a domain folder.",
      severity: "error",
      from: { pathNot: [EDGES, "^actions/src/cli/"] },
      to: { path: "^actions/src/cli/" },
    },
    {
      name: "no-action-runs-from-outside",
      comment:
        "Only the bundle entries import actions/src/action-runs/: move what the importer needs into a domain folder.",
      severity: "error",
      from: { pathNot: [EDGES, "^actions/src/(action-runs|entries)/"] },
      to: { path: "^actions/src/action-runs/" },
    },
    {
      name: "core-is-the-bottom",
      comment: "actions/src/core/ imports nothing of the project outside core/ (npm and node: are fine).",
      severity: "error",
      from: { path: "^actions/src/core/" },
      to: { dependencyTypes: ["local"], pathNot: "^actions/src/core/" },
    },
    {
      name: "schemas-only-on-core",
      comment:
        "actions/src/schemas/ imports only core/ and schemas/: a schema describes data, it calls nothing above.",
      severity: "error",
      from: { path: "^actions/src/schemas/" },
      to: { dependencyTypes: ["local"], pathNot: "^actions/src/(core|schemas)/" },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import dependency-cruiser could not resolve: it would be missing from every rule above.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: "swc",
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|dist)/" },
    // Resolve packages as Node does for an ES module (the default ignores package.json "exports").
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "node", "default"] },
  },
};
