/**
 * `pte-farm dashboard serve`: the built site over HTTP on loopback, for a look before publishing
 * (the site also opens from disk; this is what GitHub Pages will do with it). Static files only:
 * a path that leaves the folder is refused, and nothing but GET and HEAD is answered.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import path from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".png": "image/png",
};

/** Starts serving `root` on 127.0.0.1:`port` (0: any free port); resolves with the server and its URL. */
export async function serveSite(root: string, port = 0): Promise<{ server: Server; url: string }> {
  const base = path.resolve(root);
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
        return;
      }
      const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      let file = path.join(base, rel);
      if (file !== base && !file.startsWith(`${base}${path.sep}`)) {
        res.writeHead(403).end();
        return;
      }
      const s = await stat(file).catch(() => null);
      if (s?.isDirectory()) file = path.join(file, "index.html");
      const f = await stat(file).catch(() => null);
      if (f === null || !f.isFile()) {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found");
        return;
      }
      res.writeHead(200, {
        "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
        "content-length": f.size,
        "x-content-type-options": "nosniff",
      });
      if (req.method === "HEAD") res.end();
      else createReadStream(file).pipe(res);
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const addr = server.address();
  const actual = typeof addr === "object" && addr !== null ? addr.port : port;
  return { server, url: `http://127.0.0.1:${actual}/` };
}
