/**
 * `manifest.json` (`pte-farm/manifest@1`), written by the lower stage beside the `.pte`. It is the
 * build's promise to the device: which bytes, built by which toolchain, for which model. Execute
 * checks the device against it; the run record copies its toolchain as the build toolchain.
 */
import {
  type Infer,
  literal,
  nonNegInt,
  nullable,
  obj,
  optional,
  record,
  str,
  unknownValue,
} from "../core/validate.ts";
import { delegation, toolchainVersions } from "./stage.ts";

export const manifest = obj({
  schema: literal("pte-farm/manifest@1"),
  cell: record(str),
  pte: obj({ file: str, sha256: str, bytes: nonNegInt }),
  /**
   * OPTIONAL (Ethos-U builds): the bundled program (`.bpte`: the same program plus test inputs and
   * the quantized model's outputs for them) that the FVP's BundleIO executor runner checks. `file`
   * is beside this manifest; the runner checks `method`'s test case 0 of `test_cases`.
   */
  bpte: optional(obj({ file: str, sha256: str, bytes: nonNegInt, method: str, test_cases: nonNegInt })),
  program: obj({ sha256: str }),
  toolchain: toolchainVersions,
  delegation,
  /** A CNN's manifest has no `vocab_size` (it has `kind: "cnn"`, `num_classes`, `input_shape`). */
  model: obj({ id: str, max_seq_len: nonNegInt, vocab_size: optional(nullable(nonNegInt)) }),
  recipe: record(unknownValue),
  backend: record(unknownValue),
  created_at: str,
});
export type Manifest = Infer<typeof manifest>;
