/**
 * An in-memory repository for the local GitHub server: issues, issue comments and check runs
 * behave as on GitHub (a created comment is listed afterwards, lists paginate with `Link`
 * headers, labels filter issues, closing sets `closed_at`), for the operations the farm uses.
 *
 * Every object starts as a deep copy of the description's own example for that resource and only
 * the fields the farm reads or writes are changed, so replies stay inside the response schemas
 * (the server checks that on every reply anyway).
 */
import { githubOpenApi } from "./github-openapi.ts";
import { paginate } from "./github-pagination.ts";
import { errorReply, type GitHubRequest, type Handler, type Reply } from "./github-server.ts";

type Json = Record<string, unknown>;

export interface StoredComment extends Json {
  id: number;
  body: string;
  /** Not part of GitHub's object: which issue the comment belongs to. Stripped from replies. */
  issue_number: number;
}

export interface StoredIssue extends Json {
  id: number;
  number: number;
  title: string;
  body: string | null;
  state: "open" | "closed";
  state_reason: string | null;
  labels: { name: string }[];
}

export interface StoredCheckRun {
  run: Json & { id: number; name: string; status: string; conclusion: string | null; output: Json };
  annotations: Json[];
}

/** The description's own example reply of `operationId` with `status` (shared: copy before changing it). */
export function example(operationId: string, status: string): Json {
  const spec = githubOpenApi();
  const media = spec.byOperationId(operationId).responses[status]?.content?.["application/json"];
  const found = spec.exampleOf(media);
  if (!found.found) throw new Error(`no example for ${operationId} ${status}`);
  return found.value as Json;
}

/** ISO 8601 without milliseconds, as GitHub writes timestamps. */
export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

export class RepoState {
  readonly owner: string;
  readonly repo: string;
  readonly issues: StoredIssue[] = [];
  readonly comments: StoredComment[] = [];
  readonly checkRuns: StoredCheckRun[] = [];
  private nextId = 1000;
  private readonly api: string;
  private readonly html: string;
  private readonly templates = {
    issue: example("issues/create", "201"),
    comment: example("issues/create-comment", "201"),
    checkRun: example("checks/create", "201"),
    pull: example("pulls/get", "200"),
  };
  /** Pull requests by number (their conversation is the issue of the same number). */
  readonly pulls = new Map<number, Json>();
  private readonly bot: Json;

  constructor(owner = "octo-org", repo = "pte-farm") {
    this.owner = owner;
    this.repo = repo;
    this.api = `https://api.github.com/repos/${owner}/${repo}`;
    this.html = `https://github.com/${owner}/${repo}`;
    const user = this.templates.comment.user as Json;
    this.bot = { ...structuredClone(user), login: "github-actions[bot]", id: 41898282, type: "Bot" };
  }

  commentsOn(issueNumber: number): StoredComment[] {
    return this.comments.filter((c) => c.issue_number === issueNumber);
  }

  /** Seeds an issue (or a PR's conversation: comments on a PR go through the issues API). */
  addIssue(fields: {
    title: string;
    body?: string;
    labels?: string[];
    state?: "open" | "closed";
  }): StoredIssue {
    const number = this.issues.reduce((n, i) => Math.max(n, i.number), 0) + 1;
    const id = this.nextId++;
    const issue = structuredClone(this.templates.issue) as StoredIssue;
    delete issue.pull_request;
    const at = now();
    Object.assign(issue, {
      id,
      node_id: `I_local${id}`,
      number,
      url: `${this.api}/issues/${number}`,
      repository_url: this.api,
      labels_url: `${this.api}/issues/${number}/labels{/name}`,
      comments_url: `${this.api}/issues/${number}/comments`,
      events_url: `${this.api}/issues/${number}/events`,
      html_url: `${this.html}/issues/${number}`,
      title: fields.title,
      body: fields.body ?? null,
      user: this.bot,
      labels: (fields.labels ?? []).map((name) => this.label(name)),
      assignee: null,
      assignees: [],
      milestone: null,
      comments: 0,
      closed_by: null,
      created_at: at,
      updated_at: at,
      state: "open",
      state_reason: null,
      closed_at: null,
    });
    if (fields.state === "closed") this.close(issue, "completed");
    this.issues.push(issue);
    return issue;
  }

  addComment(issueNumber: number, body: string): StoredComment {
    const id = this.nextId++;
    const at = now();
    const comment = {
      ...structuredClone(this.templates.comment),
      id,
      node_id: `IC_local${id}`,
      url: `${this.api}/issues/comments/${id}`,
      html_url: `${this.html}/issues/${issueNumber}#issuecomment-${id}`,
      issue_url: `${this.api}/issues/${issueNumber}`,
      body,
      user: this.bot,
      created_at: at,
      updated_at: at,
      author_association: "NONE",
      issue_number: issueNumber,
    } as StoredComment;
    this.comments.push(comment);
    const issue = this.issues.find((i) => i.number === issueNumber);
    if (issue) issue.comments = Number(issue.comments) + 1;
    return comment;
  }

  /**
   * Seeds a pull request: its conversation (an issue of the same number, where the sticky comment
   * goes) and what `pulls.get` answers. `headRepo` is the fork's full name for a fork PR.
   */
  addPull(fields: { title: string; headSha: string; headRepo?: string }): { number: number; pull: Json } {
    const issue = this.addIssue({ title: fields.title });
    const pull = structuredClone(this.templates.pull);
    const head = pull.head as Json;
    const base = pull.base as Json;
    const repoOf = (fullName: string) => {
      const [owner, name] = fullName.split("/") as [string, string];
      return {
        ...structuredClone(base.repo as Json),
        full_name: fullName,
        name,
        owner: { ...(base.repo as { owner: Json }).owner, login: owner },
      };
    };
    Object.assign(pull, {
      number: issue.number,
      title: fields.title,
      state: "open",
      html_url: `${this.html}/pull/${issue.number}`,
      // The spec's own example lists a team without the `type` its schema requires.
      requested_teams: [],
    });
    Object.assign(head, {
      sha: fields.headSha,
      repo: repoOf(fields.headRepo ?? `${this.owner}/${this.repo}`),
    });
    Object.assign(base, { repo: repoOf(`${this.owner}/${this.repo}`) });
    this.pulls.set(issue.number, pull);
    return { number: issue.number, pull };
  }

  /** Moves a pull request's head (a new push). */
  pushTo(number: number, headSha: string): void {
    const pull = this.pulls.get(number);
    if (pull === undefined) throw new Error(`test bug: no pull request #${number}`);
    (pull.head as Json).sha = headSha;
  }

  /** Handlers for every operation this state serves, to pass to `server.use(...)`. */
  handlers(): Record<string, Handler> {
    const own = (h: (req: GitHubRequest) => Reply): Handler => {
      return (req) =>
        req.params.owner === this.owner && req.params.repo === this.repo ? h(req) : notFound();
    };
    const issueHandlers = this.issueHandlers();
    const commentHandlers = this.commentHandlers();
    const checkHandlers = this.checkHandlers();
    const pullHandlers = {
      "pulls/get": (req: GitHubRequest): Reply => {
        const pull = this.pulls.get(Number(req.params.pull_number));
        return pull ? { status: 200, body: pull } : notFound();
      },
    };
    return Object.fromEntries(
      Object.entries({ ...issueHandlers, ...commentHandlers, ...checkHandlers, ...pullHandlers }).map(
        ([id, h]) => [id, own(h)],
      ),
    );
  }

  private issueHandlers(): Record<string, (req: GitHubRequest) => Reply> {
    return {
      "issues/list-for-repo": (req) => {
        const state = String(req.query.state ?? "open");
        const wanted = String(req.query.labels ?? "")
          .split(",")
          .map((l) => l.trim().toLowerCase())
          .filter(Boolean);
        const matching = this.issues.filter(
          (i) =>
            (state === "all" || i.state === state) &&
            wanted.every((w) => i.labels.some((l) => l.name.toLowerCase() === w)),
        );
        const ascending = req.query.direction === "asc";
        const sorted = [...matching].sort((a, b) => (ascending ? a.number - b.number : b.number - a.number));
        return paginate(req, sorted);
      },
      "issues/get": (req) => {
        const issue = this.issue(req);
        return issue ? { status: 200, body: issue } : notFound();
      },
      "issues/create": (req) => {
        const body = req.body as {
          title: string | number;
          body?: string;
          labels?: (string | { name?: string })[];
        };
        const labels = (body.labels ?? []).map((l) => (typeof l === "string" ? l : (l.name ?? "")));
        const issue = this.addIssue({
          title: String(body.title),
          ...(body.body !== undefined ? { body: body.body } : {}),
          labels,
        });
        return { status: 201, body: issue, headers: { location: String(issue.url) } };
      },
      "issues/update": (req) => {
        const issue = this.issue(req);
        if (!issue) return notFound();
        const patch = (req.body ?? {}) as Json;
        if (typeof patch.title === "string" || typeof patch.title === "number")
          issue.title = String(patch.title);
        if (patch.body !== undefined) issue.body = patch.body as string | null;
        if (Array.isArray(patch.labels)) {
          issue.labels = patch.labels.map((l) =>
            this.label(typeof l === "string" ? l : String((l as Json).name)),
          );
        }
        if (patch.state === "closed" && issue.state === "open") {
          this.close(issue, (patch.state_reason as string | null) ?? "completed");
        } else if (patch.state === "open" && issue.state === "closed") {
          Object.assign(issue, { state: "open", state_reason: "reopened", closed_at: null, closed_by: null });
        }
        issue.updated_at = now();
        return { status: 200, body: issue };
      },
    };
  }

  private commentHandlers(): Record<string, (req: GitHubRequest) => Reply> {
    return {
      "issues/list-comments": (req) => {
        if (!this.issue(req)) return notFound();
        return paginate(req, this.commentsOn(Number(req.params.issue_number)).map(publicComment));
      },
      "issues/create-comment": (req) => {
        const issue = this.issue(req);
        if (!issue) return notFound();
        const comment = this.addComment(issue.number, (req.body as { body: string }).body);
        return { status: 201, body: publicComment(comment), headers: { location: String(comment.url) } };
      },
      "issues/get-comment": (req) => {
        const comment = this.comments.find((c) => c.id === req.params.comment_id);
        return comment ? { status: 200, body: publicComment(comment) } : notFound();
      },
      "issues/delete-comment": (req) => {
        const at = this.comments.findIndex((c) => c.id === req.params.comment_id);
        if (at < 0) return notFound();
        this.comments.splice(at, 1);
        return { status: 204 };
      },
      "issues/update-comment": (req) => {
        const comment = this.comments.find((c) => c.id === req.params.comment_id);
        if (!comment) return notFound();
        comment.body = (req.body as { body: string }).body;
        comment.updated_at = now();
        return { status: 200, body: publicComment(comment) };
      },
    };
  }

  private checkHandlers(): Record<string, (req: GitHubRequest) => Reply> {
    return {
      "checks/create": (req) => {
        const body = req.body as Json;
        const problem = conclusionProblem(body);
        if (problem) return errorReply(422, problem);
        const id = this.nextId++;
        const run = {
          ...structuredClone(this.templates.checkRun),
          id,
          node_id: `CR_local${id}`,
          head_sha: body.head_sha,
          name: body.name,
          external_id: (body.external_id as string | undefined) ?? "",
          url: `${this.api}/check-runs/${id}`,
          html_url: `${this.html}/runs/${id}`,
          details_url: (body.details_url as string | undefined) ?? null,
          status: "queued",
          conclusion: null,
          started_at: (body.started_at as string | undefined) ?? now(),
          completed_at: null,
          output: {
            title: null,
            summary: null,
            text: null,
            annotations_count: 0,
            annotations_url: `${this.api}/check-runs/${id}/annotations`,
          },
          pull_requests: [],
        } as StoredCheckRun["run"];
        const stored: StoredCheckRun = { run, annotations: [] };
        this.applyCheckRun(stored, body);
        this.checkRuns.push(stored);
        return { status: 201, body: run };
      },
      "checks/update": (req) => {
        const stored = this.checkRuns.find((c) => c.run.id === req.params.check_run_id);
        if (!stored) return notFound();
        const body = req.body as Json;
        const problem = conclusionProblem(body);
        if (problem) return errorReply(422, problem);
        this.applyCheckRun(stored, body);
        return { status: 200, body: stored.run };
      },
      "checks/get": (req) => {
        const stored = this.checkRuns.find((c) => c.run.id === req.params.check_run_id);
        return stored ? { status: 200, body: stored.run } : notFound();
      },
      "checks/list-annotations": (req) => {
        const stored = this.checkRuns.find((c) => c.run.id === req.params.check_run_id);
        return stored ? paginate(req, stored.annotations) : notFound();
      },
    };
  }

  /** Status, conclusion and output as GitHub applies them; annotations are appended, never replaced. */
  private applyCheckRun(stored: StoredCheckRun, body: Json): void {
    const { run } = stored;
    for (const key of ["name", "details_url", "external_id", "started_at"]) {
      if (body[key] !== undefined) run[key] = body[key];
    }
    if (body.status !== undefined) run.status = String(body.status);
    if (body.conclusion !== undefined) {
      run.conclusion = String(body.conclusion);
      run.status = "completed";
      run.completed_at = (body.completed_at as string | undefined) ?? now();
    }
    const output = body.output as Json | undefined;
    if (output === undefined) return;
    for (const key of ["title", "summary", "text"] as const) {
      if (output[key] !== undefined) run.output[key] = output[key];
    }
    for (const a of (output.annotations as Json[] | undefined) ?? []) {
      stored.annotations.push({
        path: a.path,
        start_line: a.start_line,
        end_line: a.end_line,
        start_column: a.start_column ?? null,
        end_column: a.end_column ?? null,
        annotation_level: a.annotation_level,
        title: a.title ?? null,
        message: a.message,
        raw_details: a.raw_details ?? null,
        blob_href: `${this.html}/blob/${String(run.head_sha)}/${String(a.path)}`,
      });
    }
    run.output.annotations_count = stored.annotations.length;
  }

  private issue(req: GitHubRequest): StoredIssue | undefined {
    return this.issues.find((i) => i.number === req.params.issue_number);
  }

  private label(name: string): StoredIssue["labels"][number] {
    const template = (this.templates.issue.labels as Json[])[0] as Json;
    const id = Array.from(name).reduce((h, ch) => (h * 31 + (ch.codePointAt(0) ?? 0)) % 1_000_000_007, 7);
    return {
      ...structuredClone(template),
      id,
      node_id: `LA_local${id}`,
      url: `${this.api}/labels/${encodeURIComponent(name)}`,
      name,
      description: null,
      color: "ededed",
      default: false,
    } as StoredIssue["labels"][number];
  }

  private close(issue: StoredIssue, reason: string): void {
    Object.assign(issue, { state: "closed", state_reason: reason, closed_at: now(), closed_by: this.bot });
  }
}

/**
 * GitHub answers 422 when a check run is `completed` (or has `completed_at`) without a
 * `conclusion`; the description says so only in prose, so the schema cannot catch it.
 */
function conclusionProblem(body: Json): string | undefined {
  const completes = body.status === "completed" || body.completed_at !== undefined;
  if (completes && body.conclusion === undefined) {
    return "Validation Failed: conclusion is required when status is completed or completed_at is given";
  }
  return undefined;
}

function publicComment(comment: StoredComment): Json {
  const { issue_number: _, ...rest } = comment;
  return rest;
}

function notFound(): Reply {
  return errorReply(404, "Not Found");
}
