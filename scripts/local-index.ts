/**
 * A package index of our own, for the bisection tests and benchmark: real wheels of a small test package, built here
 * (one per version, with the behaviour each test chooses), served over HTTP as a PEP 503 simple
 * index that real pip installs from. The server can fail chosen files (HTTP 503) to stand in for a
 * flaky index: infrastructure, not the package.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { execa } from "execa";

export interface ProbeVersion {
  version: string;
  /** Python run at import: e.g. "BROKEN = True". */
  body: string;
  /** Requires-Dist lines (a missing one makes the version not install). */
  requires?: string[];
}

const WHEEL_SCRIPT = `
import base64, hashlib, json, sys, zipfile
spec = json.loads(sys.argv[1])
name, version, out = spec["name"], spec["version"], spec["out"]
dist = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"VERSION = {version!r}\\n{spec['body']}\\n",
    f"{dist}/METADATA": "Metadata-Version: 2.1\\nName: " + name.replace("_", "-") + f"\\nVersion: {version}\\n" + "".join(f"Requires-Dist: {r}\\n" for r in spec["requires"]),
    f"{dist}/WHEEL": "Wheel-Version: 1.0\\nGenerator: pte-farm-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
def digest(text):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
record = "".join(f"{p},{digest(t)},{len(t.encode())}\\n" for p, t in files.items()) + f"{dist}/RECORD,,\\n"
with zipfile.ZipFile(out, "w") as z:
    for p, t in files.items():
        z.writestr(p, t)
    z.writestr(f"{dist}/RECORD", record)
`;

export interface LocalIndex {
  url: string;
  /** Wheel versions whose downloads fail with 503: `always`, or only the first `n` requests. */
  faults: Map<string, { remaining: number }>;
  requests: string[];
  close(): Promise<void>;
}

export async function buildWheels(
  dir: string,
  project: string,
  versions: readonly ProbeVersion[],
  python: string,
): Promise<Map<string, string>> {
  await mkdir(dir, { recursive: true });
  const module = project.replaceAll("-", "_");
  const files = new Map<string, string>();
  for (const v of versions) {
    const file = path.join(dir, `${module}-${v.version}-py3-none-any.whl`);
    await execa(python, [
      "-c",
      WHEEL_SCRIPT,
      JSON.stringify({
        name: module,
        version: v.version,
        body: v.body,
        requires: v.requires ?? [],
        out: file,
      }),
    ]);
    files.set(v.version, file);
  }
  return files;
}

/** Serves `project`'s wheels as `/simple/<project>/` with sha256 fragments, as PyPI does. */
export async function serveIndex(project: string, wheels: ReadonlyMap<string, string>): Promise<LocalIndex> {
  const byName = new Map<string, { version: string; file: string; sha: string }>();
  for (const [version, file] of wheels) {
    const sha = createHash("sha256")
      .update(await readFile(file))
      .digest("hex");
    byName.set(path.basename(file), { version, file, sha });
  }
  const faults = new Map<string, { remaining: number }>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = req.url ?? "/";
    requests.push(url);
    if (url === "/simple/" || url === `/simple/${project}/`) {
      const links =
        url === "/simple/"
          ? `<a href="/simple/${project}/">${project}</a>`
          : [...byName]
              .map(([name, w]) => `<a href="/files/${name}#sha256=${w.sha}">${name}</a>`)
              .join("<br>\n");
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!DOCTYPE html><html><body>\n${links}\n</body></html>\n`);
      return;
    }
    const m = /^\/files\/([^/?#]+)$/.exec(url);
    const wheel = m === null ? undefined : byName.get(decodeURIComponent(m[1] as string));
    if (wheel === undefined) {
      res.writeHead(404).end("not found");
      return;
    }
    const fault = faults.get(wheel.version);
    if (fault !== undefined && fault.remaining > 0) {
      fault.remaining--;
      res.writeHead(503, { "content-type": "text/plain" }).end("index overloaded (test fault)");
      return;
    }
    void readFile(wheel.file).then((bytes) => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
      res.end(bytes);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/simple/`,
    faults,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** pip's environment for a test that must see only this index (the machine's config, caches and retries off). */
export function pipEnvFor(index: LocalIndex): Record<string, string> {
  return {
    PIP_CONFIG_FILE: "/dev/null",
    PIP_INDEX_URL: index.url,
    PIP_EXTRA_INDEX_URL: "",
    PIP_FIND_LINKS: "",
    PIP_NO_CACHE_DIR: "1",
    PIP_RETRIES: "0",
    PIP_TIMEOUT: "10",
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
  };
}

export async function writeText(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}
