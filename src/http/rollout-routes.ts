import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { RolloutRequestError, type RequestProblem, type RolloutApi } from "../../controllers/service/requests.ts";
import { RevisionRestoreError } from "../desired/revision.ts";

/** How each kind of refused request is answered. */
const STATUS: Record<RequestProblem, number> = { invalid: 400, "not-found": 404, conflict: 409 };

export interface RouteResult {
  status: number;
  body: unknown;
}

const PATH = /^\/api\/v1\/services\/([^/]+)\/([^/]+)\/(rollout|rollback|retry)$/;

/** Whether the request carries the daemon's bearer token (compared in constant time). */
export function authorized(req: IncomingMessage, token: string | undefined): boolean {
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
  if (!token || !given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET .../services/<env>/<name>/rollout` (anyone who may read), and
 * `POST .../rollback` (body `{"to": "<revision>"}`, optional) and `POST .../retry`
 * (bearer token only; without a configured token the API stays read-only).
 * Undefined when the path is not one of these.
 */
export async function rolloutRoute(req: IncomingMessage, url: URL, rollouts: RolloutApi, token: string | undefined): Promise<RouteResult | undefined> {
  const match = PATH.exec(url.pathname);
  if (!match) return undefined;
  let key: string;
  try {
    key = `Service/${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}`;
  } catch {
    return { status: 400, body: { error: "malformed environment or service name in the path; expected /api/v1/services/<environment>/<service>/..." } };
  }
  const action = match[3]!;
  if (action === "rollout") {
    if (req.method !== "GET") return { status: 405, body: { error: "rollout status is read with GET" } };
    const status = await rollouts.status(key);
    return status ? { status: 200, body: status } : { status: 404, body: { error: `${key} is not declared in the manifests` } };
  }
  if (req.method !== "POST") return { status: 405, body: { error: `${action} is a POST` } };
  if (!token) return { status: 403, body: { error: "the API is read-only: start berth run with --api-token-file (or BERTH_API_TOKEN) to allow rollbacks and retries" } };
  if (!authorized(req, token)) return { status: 401, body: { error: "missing or wrong bearer token; expected the header Authorization: Bearer <token>, e.g. berth rollback --token-file <file> or BERTH_API_TOKEN set to the daemon's token" } };
  try {
    if (action === "retry") {
      await rollouts.retry(key);
      return { status: 202, body: { service: key, accepted: "retry" } };
    }
    const body = await readJson(req);
    const to = typeof body.to === "string" && body.to ? body.to : undefined;
    const { revision } = await rollouts.rollback(key, to);
    return { status: 202, body: { service: key, accepted: "rollback", revision } };
  } catch (error) {
    if (error instanceof RolloutRequestError) return { status: STATUS[error.problem], body: { error: error.message } };
    if (error instanceof RevisionRestoreError) return { status: 409, body: { error: error.message } };
    throw error;
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 10_000) throw new RolloutRequestError("request body too large; expected at most a small JSON object, e.g. {\"to\": \"3f2a9c1b7d4e\"}", "invalid");
    chunks.push(Buffer.from(chunk));
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    throw new RolloutRequestError(`request body is not JSON; expected e.g. {"to": "3f2a9c1b7d4e"}`, "invalid");
  }
}
