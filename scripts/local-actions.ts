/**
 * The interface of each local action (`actions/<name>/action.yml`) as GitHub reads it, for the
 * policy rule local-action-io (workflow-policy/interfaces.ts). The rule reads the generated action.yml files
 * rather than actions/src/action-runs/io-table.ts because those files are what a runner resolves; the bundle
 * check (scripts/build-actions.ts --check) keeps them equal to io-table.ts.
 *
 * Pure: text in, interface out. scripts/lint-workflows.ts reads the files.
 */
import { parse as parseYaml } from "yaml";

export interface LocalAction {
  /** The folder under actions/, as a step names it: `uses: ./actions/<name>`. */
  name: string;
  /** Input name → whether a call must give it (`required: true` and no default). */
  inputs: Record<string, { required: boolean }>;
  outputs: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** An action.yml's inputs and outputs; throws naming the file when it is not an action's metadata. */
export function parseActionYml(name: string, text: string): LocalAction {
  const doc: unknown = parseYaml(text);
  if (!isObj(doc)) throw new Error(`actions/${name}/action.yml: not a YAML mapping`);
  const section = (key: "inputs" | "outputs"): Obj => {
    const v = doc[key] ?? {};
    if (!isObj(v)) throw new Error(`actions/${name}/action.yml: ${key} is not a mapping`);
    return v;
  };
  const inputs = Object.fromEntries(
    Object.entries(section("inputs")).map(([key, spec]) => {
      const s = isObj(spec) ? spec : {};
      // GitHub treats an input with a default as given; io-table.ts never declares both.
      return [key, { required: s.required === true && s.default === undefined }];
    }),
  );
  return { name, inputs, outputs: Object.keys(section("outputs")) };
}
