/**
 * Token ids for text `llama_main` printed. The runner prints decoded pieces, never ids, so the ids
 * the gate compares are recovered by encoding the text again with the model's own Hugging Face
 * tokenizer (the one the reference used), in the toolchain's Python. Encoding does not invert
 * decoding for every text (a byte-level piece printed alone, merges across piece boundaries), so
 * the caller checks the count against the runner's own `generated_tokens`: a mismatch means the
 * ids cannot be recovered, which is the farm's problem, never the model's.
 */
import { execa } from "execa";

/** Encodes each text without special-token additions; pieces are decoded one id at a time (as the reference's). */
const PROGRAM = `
import json, sys
from transformers import AutoTokenizer
req = json.load(sys.stdin)
tok = AutoTokenizer.from_pretrained(req["model"], local_files_only=True)
out = []
for text in req["texts"]:
    ids = [int(i) for i in tok(text, add_special_tokens=False)["input_ids"]]
    out.append({"ids": ids, "pieces": [tok.decode([i]) for i in ids]})
json.dump(out, sys.stdout)
`;

export interface Encoded {
  ids: number[];
  pieces: string[];
}

export class TokenIdsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenIdsError";
  }
}

export async function encodeTexts(
  python: string,
  modelDir: string,
  texts: readonly string[],
): Promise<Encoded[]> {
  const res = await execa(python, ["-c", PROGRAM], {
    input: JSON.stringify({ model: modelDir, texts }),
    reject: false,
    env: { HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" },
  });
  if (res.exitCode !== 0) {
    throw new TokenIdsError(
      `could not load the tokenizer of ${modelDir} with ${python} to recover token ids: ` +
        `${(res.stderr || res.shortMessage || "").split("\n").slice(-3).join(" ").trim()}`,
    );
  }
  return JSON.parse(res.stdout) as Encoded[];
}
