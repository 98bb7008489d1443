import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Manager } from "../engine/manager.ts";
import type { Logger } from "../log/logger.ts";
import { describeProblem, type ManifestHealth } from "../manifests/health.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Store } from "../store/index.ts";
import { maskedSpec } from "../record/masked-spec.ts";
import { involvedFilter, resourceView } from "../store/repositories.ts";
import type { RolloutApi } from "../../controllers/service/requests.ts";
import { hostAllowed, hostRefusal, type HostPolicy } from "./host-check.ts";
import { rolloutRoute } from "./rollout-routes.ts";
import { DEFAULT_LISTEN, parseListen } from "./listen.ts";
export { DEFAULT_LISTEN, parseListen };
import { gitHookRoute, type GitHook } from "./webhooks.ts";
import type { SourceStatus } from "../source/follower.ts";


/** What the daemon that acts serves: absent on a follower, which serves only what the store holds. */
export interface ActingDaemon {
  manager: Manager;
  /** Rollout status, rollbacks and retries, as the daemon serves them. */
  rollouts: RolloutApi;
  /** The manifests' health now: the `manifests` readiness check fails while any file is broken. */
  manifests: () => ManifestHealth;
  /** The git source's status now: the `source` readiness check fails while it cannot fetch or refuses the newest commit. */
  source?: () => Readonly<SourceStatus>;
  /** `POST /hooks/git` fetches the git source at once; absent without a git source and a webhook secret. */
  gitHook?: GitHook;
}

/** A daemon that follows another (berth run electing a leader): why it does not act, and where the leader is. */
export interface Following {
  /** One line for /readyz, e.g. "following host/123/ab12 (term 4) at 10.0.0.5:9465". */
  detail: string;
  /** Said to a client whose request only the leader can answer. */
  refusal: string;
}

export interface HttpOptions {
  listen: string;
  metrics: Metrics;
  store: Store;
  /** The acting daemon; undefined while this one follows. */
  daemon: () => ActingDaemon | undefined;
  /** Set when daemons elect a leader: what a follower says of the leader. */
  following?: () => Following;
  log: Logger;
  /** Bearer token that allows rollbacks and retries; without one the API is read-only. */
  apiToken?: string;
  /**
   * Host names answered besides localhost, IP addresses and the listen address
   * (`berth run --allowed-host`); any other Host header gets 421, against DNS rebinding.
   */
  allowedHosts?: readonly string[];
}

interface Check {
  name: string;
  ok: boolean;
  latencyMs: number;
  detail: string;
}

type Handler = (url: URL) => Promise<{ status: number; body: unknown; type?: string }>;


/** /metrics, /healthz, /readyz, the JSON API under /api/v1, and rollbacks for bearers of the API token. */
export async function startHttpServer(options: HttpOptions): Promise<{ server: Server; address: string; close(): Promise<void> }> {
  const { metrics, store } = options;
  const routes: Record<string, Handler> = {
    "/metrics": async () => {
      options.daemon()?.manager.refreshMetrics();
      return { status: 200, body: await metrics.render(), type: metrics.registry.contentType };
    },
    "/healthz": async () => ({ status: 200, body: { status: "ok" } }),
    "/readyz": async () => {
      const checks = await readinessChecks(options);
      const ok = checks.every((c) => c.ok);
      return { status: ok ? 200 : 503, body: { status: ok ? "ready" : "not ready", checks } };
    },
    // Specs as the recorder stores them, masked again on the way out: rows stored before a masking rule existed follow it too.
    "/api/v1/resources": async () => ({ status: 200, body: { items: (await store.resources.list()).map(resourceView).map((r) => ({ ...r, spec: maskedSpec(r.spec) })) } }),
    "/api/v1/events": async (url) => ({ status: 200, body: { items: await store.events.list({ ...involvedFilter(url.searchParams.get("for") ?? undefined), limit: limitOf(url) }) } }),
    "/api/v1/health": async (url) => ({ status: 200, body: { items: await store.health.list({ service: url.searchParams.get("service") ?? undefined, limit: limitOf(url) }) } }),
    "/api/v1/deployments": async (url) => ({ status: 200, body: { items: await store.deployments.list({ service: url.searchParams.get("service") ?? undefined, limit: limitOf(url) }) } }),
    "/api/v1/targets": async () => ({ status: 200, body: { items: await store.targets.list() } }),
    "/api/v1/sources": async () => ({ status: 200, body: { items: (await store.sources.list()).map((s) => ({ ...s, conditions: JSON.parse(s.conditions) })) } }),
  };

  const hosts: HostPolicy = { listen: options.listen, allowedHosts: options.allowedHosts ?? [] };
  const refusedHosts = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://berth");
    const handler = routes[url.pathname];
    const reply = (status: number, body: unknown, type = "application/json") => {
      res.writeHead(status, { "content-type": type, "x-content-type-options": "nosniff", "cache-control": "no-store" });
      res.end(typeof body === "string" ? body : `${JSON.stringify(body, null, 2)}\n`);
    };
    // Every path, /healthz included: probes and scrapers that address the daemon by IP or localhost pass.
    if (!hostAllowed(req.headers.host, hosts)) {
      const host = req.headers.host ?? "";
      // Once per name, so that a misconfigured scraper is visible without flooding the log.
      if (refusedHosts.size < 100 && !refusedHosts.has(host)) {
        refusedHosts.add(host);
        options.log.warn("http request refused: Host not allowed", { host, path: url.pathname, hint: "berth run --allowed-host <name>" });
      }
      return reply(421, hostRefusal(host));
    }
    const fail = (error: unknown) => {
      options.log.error("http request failed", { path: url.pathname, error });
      reply(500, { error: "internal error" });
    };
    const daemon = options.daemon();
    // Hooks and rollouts need the daemon that acts: a follower says where it is (503, so that senders retry).
    const needsLeader = url.pathname === "/hooks/git" || url.pathname.startsWith("/api/v1/services/");
    if (!daemon && needsLeader) return reply(503, { error: options.following?.().refusal ?? "the daemon is starting; try again shortly" });
    if (url.pathname === "/hooks/git") {
      const hook = daemon?.gitHook;
      if (!hook) return reply(404, { error: "no git webhook here: it needs berth run --git URL --webhook-secret-file FILE" });
      return void gitHookRoute(req, hook).then((r) => reply(r.status, r.body), fail);
    }
    if (!handler) {
      if (!daemon) return reply(404, { error: `no such path ${url.pathname}`, paths: Object.keys(routes) });
      return void rolloutRoute(req, url, daemon.rollouts, options.apiToken).then((r) => (r ? reply(r.status, r.body) : reply(404, { error: `no such path ${url.pathname}`, paths: [...Object.keys(routes), "/api/v1/services/<environment>/<service>/{rollout,rollback,retry}"] })), fail);
    }
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, { error: "only GET here; POST is for .../rollback and .../retry" });
    handler(url)
      .then((r) => reply(r.status, r.body, r.type))
      .catch(fail);
  });
  const { host, port } = parseListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const address = typeof bound === "object" && bound ? `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}` : options.listen;
  return { server, address, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function limitOf(url: URL): number {
  const n = Number(url.searchParams.get("limit") ?? 100);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1000) : 100;
}

async function readinessChecks(options: HttpOptions): Promise<Check[]> {
  const timed = async (name: string, fn: () => Promise<string>): Promise<Check> => {
    const started = performance.now();
    try {
      return { name, ok: true, detail: await fn(), latencyMs: Math.round(performance.now() - started) };
    } catch (error) {
      return { name, ok: false, detail: error instanceof Error ? error.message : String(error), latencyMs: Math.round(performance.now() - started) };
    }
  };
  const checks = [
    // Not just a round trip: SELECT 1 still answers on a deleted database file or a full disk.
    await timed("store", () => options.store.check()),
  ];
  const daemon = options.daemon();
  if (options.following) {
    checks.push({ name: "leader", ok: true, detail: daemon ? "this daemon leads" : options.following().detail, latencyMs: 0 });
  }
  if (!daemon) return checks;
  checks.push(
    await timed("manifests", async () => {
      const health = daemon.manifests();
      if (!health.ok) {
        const files = [...new Set(health.broken.map((b) => b.file))];
        const problems = health.broken.slice(0, 10).map((b) => describeProblem(b.file, b));
        if (health.broken.length > 10) problems.push(`and ${health.broken.length - 10} more`);
        throw new Error(`${files.length} manifest file(s) broken (${files.join(", ")}); the last good state stays in force: ${problems.join("; ")}`);
      }
      return `${daemon.manager.desired.services.size} services`;
    }),
  );
  const source = daemon.source?.();
  if (source) {
    const problems = source.conditions.filter((c) => c.status === "False");
    const detail = problems.length ? `${problems.map((c) => `${c.type}=False: ${c.message}`).join("; ")}` : `${source.url} ${source.ref} at ${source.commit?.slice(0, 12) ?? "no commit"}`;
    checks.push({ name: "source", ok: problems.length === 0 && source.commit !== undefined, detail, latencyMs: 0 });
  }
  for (const target of daemon.manager.targetStatus()) {
    checks.push({ name: `target/${target.name}`, ok: target.phase === "Active", detail: target.error ?? target.phase, latencyMs: target.engine?.latencyMs ?? 0 });
  }
  return checks;
}
