import { createServer, request, type Server } from "node:http";
import { rmSync } from "node:fs";

/** Counts of engine API calls by kind, as a proxy in front of the socket saw them. */
export interface ApiCounts {
  /** Every request, e.g. "GET /containers/json": 3. */
  byCall: Record<string, number>;
  lists: number;
  inspects: number;
  mutations: number;
}

/** The route of an API path with versions and object ids taken out: /v1.41/containers/abc/start -> /containers/{id}/start. */
function route(method: string, url: string): string {
  const path = url.split("?")[0]!.replace(/^\/v\d+\.\d+/, "");
  let parts = path.split("/").filter(Boolean);
  // Image names hold slashes: /images/org/name:tag/json is one image.
  if (parts[0] === "images" && parts.length > 3) parts = [parts[0], parts.slice(1, -1).join("/"), parts.at(-1)!];
  const shape = parts.map((p, i) => (i === 1 && !["json", "create", "prune", "load"].includes(p) ? "{id}" : p));
  return `${method} /${shape.join("/")}`;
}

/**
 * A counting proxy for a Docker engine's unix socket: tools pointed at
 * `socket` reach `engineSocket` unchanged, and every request is tallied, so
 * Berth and its peers are counted the same way, from outside.
 */
export async function startApiCounter(engineSocket: string, socket: string): Promise<{ host: string; reset(): void; counts(): ApiCounts; close(): Promise<void> }> {
  let byCall: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const key = route(req.method ?? "GET", req.url ?? "/");
    byCall[key] = (byCall[key] ?? 0) + 1;
    const upstream = request({ socketPath: engineSocket, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  rmSync(socket, { force: true });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    host: `unix://${socket}`,
    reset: () => (byCall = {}),
    counts() {
      const sum = (test: (method: string, path: string) => boolean) => Object.entries(byCall).reduce((n, [k, v]) => (test(k.split(" ")[0]!, k.split(" ")[1]!) ? n + v : n), 0);
      return {
        byCall: { ...byCall },
        lists: sum((m, p) => m === "GET" && /^\/(containers|networks|volumes|images)(\/json)?$/.test(p)),
        inspects: sum((m, p) => m === "GET" && /\/\{id\}(\/json)?$/.test(p)),
        mutations: sum((m) => m !== "GET" && m !== "HEAD"),
      };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
