/**
 * GitHub's list pagination for the local server: `per_page` (default 30, at most 100) and `page`,
 * with a `Link` header whose URLs point back at the server the client called, so octokit's
 * `paginate` follows them exactly as it follows api.github.com's.
 */
import type { GitHubRequest, Reply } from "./github-server.ts";

export function paginate(req: GitHubRequest, items: readonly unknown[]): Reply {
  const perPage = Math.min(Math.max(Number(req.query.per_page ?? 30), 1), 100);
  const page = Math.max(Number(req.query.page ?? 1), 1);
  const last = Math.max(Math.ceil(items.length / perPage), 1);
  const body = items.slice((page - 1) * perPage, page * perPage);
  const link = (n: number, rel: string) => {
    const url = new URL(req.url);
    url.searchParams.set("per_page", String(perPage));
    url.searchParams.set("page", String(n));
    return `<${url.href}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(link(page - 1, "prev"), link(1, "first"));
  if (page < last) links.push(link(page + 1, "next"), link(last, "last"));
  return { status: 200, body, ...(links.length > 0 ? { headers: { link: links.join(", ") } } : {}) };
}
