import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** What a push webhook may do: fetch the followed source now. */
export interface GitHook {
  /** The shared secret every forge signs with (`--webhook-secret-file`). */
  secret: string;
  /** The ref the source follows as given (`main`, `v1`, `refs/heads/main`) or `HEAD`. */
  ref: string;
  trigger(reason: string): void;
  /** Every refused delivery: the audit entry. */
  refused(why: string, from: string | undefined): void;
}

export interface HookAnswer {
  status: number;
  body: unknown;
}

/** Push bodies are small; a larger one is refused before it is hashed. */
const MAX_BODY = 5 * 1024 * 1024;

/**
 * `POST /hooks/git`: authenticated by the forge's own scheme, never by the API
 * token. GitHub and Gitea/Forgejo sign the raw body with HMAC-SHA256
 * (`X-Hub-Signature-256: sha256=<hex>`, `X-Gitea-Signature: <hex>`, also
 * `X-Forgejo-Signature`); GitLab sends the secret itself (`X-Gitlab-Token`).
 * All comparisons take constant time. A push to another ref is accepted and ignored.
 */
export async function gitHookRoute(req: IncomingMessage, hook: GitHook): Promise<HookAnswer> {
  if (req.method !== "POST") return { status: 405, body: { error: "only POST here: a push webhook" } };
  let body: Buffer;
  const from = req.socket.remoteAddress;
  try {
    body = await readBody(req);
  } catch (error) {
    hook.refused((error as Error).message, from);
    return { status: 413, body: { error: (error as Error).message } };
  }
  const scheme = authenticate(req, body, hook.secret);
  if (!scheme.ok) {
    hook.refused(scheme.why, from);
    return { status: 401, body: { error: scheme.why } };
  }
  const event = String(req.headers["x-github-event"] ?? req.headers["x-gitea-event"] ?? req.headers["x-forgejo-event"] ?? req.headers["x-gitlab-event"] ?? "push");
  if (/^ping$/i.test(event)) return { status: 200, body: { accepted: true, fetching: false, reason: "ping" } };
  let payload: { ref?: unknown; repository?: { default_branch?: unknown }; project?: { default_branch?: unknown } } = {};
  try {
    payload = JSON.parse(body.toString("utf8") || "{}");
  } catch {
    // Some forges send form-encoded bodies; without a ref the push counts as ours.
  }
  const pushed = typeof payload.ref === "string" ? payload.ref : undefined;
  const defaultBranch = payload.repository?.default_branch ?? payload.project?.default_branch;
  if (pushed && !refMatches(hook.ref, pushed, typeof defaultBranch === "string" ? defaultBranch : undefined)) {
    return { status: 202, body: { accepted: true, fetching: false, reason: `push to ${pushed}, which is not the followed ref ${hook.ref}` } };
  }
  hook.trigger(`webhook ${scheme.name}`);
  return { status: 202, body: { accepted: true, fetching: true } };
}

type Authenticated = { ok: true; name: string } | { ok: false; why: string };

function authenticate(req: IncomingMessage, body: Buffer, secret: string): Authenticated {
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const expected = createHmac("sha256", secret).update(body).digest();
  const github = header("x-hub-signature-256");
  if (github !== undefined) return sameHex(github.replace(/^sha256=/, ""), expected) ? { ok: true, name: "github" } : { ok: false, why: "X-Hub-Signature-256 does not match the body signed with the webhook secret" };
  const gitea = header("x-gitea-signature") ?? header("x-forgejo-signature");
  if (gitea !== undefined) return sameHex(gitea, expected) ? { ok: true, name: "gitea" } : { ok: false, why: "X-Gitea-Signature does not match the body signed with the webhook secret" };
  const gitlab = header("x-gitlab-token");
  if (gitlab !== undefined) return sameBytes(Buffer.from(gitlab), Buffer.from(secret)) ? { ok: true, name: "gitlab" } : { ok: false, why: "X-Gitlab-Token is not the webhook secret" };
  return { ok: false, why: "no signature: expected X-Hub-Signature-256 (GitHub), X-Gitea-Signature (Gitea, Forgejo) or X-Gitlab-Token (GitLab) made with the webhook secret" };
}

function sameHex(given: string, expected: Buffer): boolean {
  if (!/^[0-9a-f]+$/i.test(given)) return false;
  return sameBytes(Buffer.from(given, "hex"), expected);
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether a pushed ref (`refs/heads/main`, `refs/tags/v1`) is the one followed; `HEAD` follows the default branch. */
export function refMatches(followed: string, pushed: string, defaultBranch?: string): boolean {
  if (followed === "HEAD") return defaultBranch === undefined || pushed === `refs/heads/${defaultBranch}`;
  return pushed === followed || pushed === `refs/heads/${followed}` || pushed === `refs/tags/${followed}`;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      // The rest is read and dropped, so the sender still gets its 413.
      if (size > MAX_BODY) reject(new Error(`the body is larger than ${MAX_BODY} bytes; a push webhook is much smaller`));
      else chunks.push(chunk);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}
