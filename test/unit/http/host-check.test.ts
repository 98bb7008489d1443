import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { RolloutApi } from "../../../controllers/service/requests.ts";
import type { Manager } from "../../../src/engine/manager.ts";
import { hostAllowed } from "../../../src/http/host-check.ts";
import { startHttpServer } from "../../../src/http/server.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { openStore, type Store } from "../../../src/store/index.ts";

// ---------------------------------------------------------------------------
// DNS rebinding: a web page at http://evil.example:9464 whose name is made to
// resolve to 127.0.0.1 reaches the daemon from the victim's browser. The
// browser sends `Host: evil.example:9464`; the daemon must not answer it.
// ---------------------------------------------------------------------------

let store: Store | undefined;
let http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
  store?.close();
  store = undefined;
});

const manager = { desired: { services: new Map() }, targetStatus: () => [], refreshMetrics: () => {} } as unknown as Manager;
const unused = () => Promise.reject(new Error("not called"));
const rollouts: RolloutApi = { status: unused, rollback: unused, retry: unused };

async function start(allowedHosts?: string[]) {
  store = await openStore("file::memory:");
  http = await startHttpServer({ listen: "127.0.0.1:0", metrics: new Metrics({ processMetrics: false }), store, log: silentLogger, daemon: () => ({ manager, rollouts, manifests: () => ({ ok: true, broken: [] }) }), allowedHosts });
  return http;
}

/** A GET (or `method`) with exactly the Host header given; fetch() would not let a test set it. */
function get(address: string, path: string, host: string | undefined, method = "GET"): Promise<{ status: number; body: string; type: string | undefined }> {
  const [hostname, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method, headers: host === undefined ? {} : { host }, setHost: host !== undefined }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, type: res.headers["content-type"] }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the Host header check", () => {
  it("refuses a request whose Host names another site with 421 and a JSON error naming --allowed-host, on every path", async () => {
    const { address } = await start();
    for (const path of ["/api/v1/resources", "/api/v1/events", "/metrics", "/readyz", "/healthz", "/api/v1/services/dev/web/rollout", "/nowhere"]) {
      const response = await get(address, path, "evil.example:9464");
      expect(response.status, path).toBe(421);
      expect(response.type).toBe("application/json");
      const body = JSON.parse(response.body) as { error: string };
      expect(body.error).toContain('"evil.example:9464"');
      expect(body.error).toContain("--allowed-host evil.example");
    }
  });

  it("refuses a POST from another site before it reaches the rollback route", async () => {
    const { address } = await start();
    const response = await get(address, "/api/v1/services/dev/web/rollback", "evil.example", "POST");
    expect(response.status).toBe(421);
  });

  it("answers the listen address, localhost, 127.0.0.1 and [::1], with or without a port", async () => {
    const { address } = await start();
    const port = address.slice(address.lastIndexOf(":") + 1);
    for (const host of [address, "localhost", `localhost:${port}`, "LOCALHOST:1234", "127.0.0.1", `127.0.0.1:${port}`, "[::1]", `[::1]:${port}`, "localhost."]) {
      const response = await get(address, "/api/v1/resources", host);
      expect(response.status, host).toBe(200);
    }
  });

  it("answers a name given with --allowed-host (any port unless the name gives one)", async () => {
    const { address } = await start(["berth.internal", "Metrics.Example:9100"]);
    expect((await get(address, "/metrics", "berth.internal:9464")).status).toBe(200);
    expect((await get(address, "/metrics", "BERTH.INTERNAL")).status).toBe(200);
    expect((await get(address, "/metrics", "metrics.example:9100")).status).toBe(200);
    expect((await get(address, "/metrics", "metrics.example:9101")).status).toBe(421);
    expect((await get(address, "/metrics", "berth.internal.evil.example")).status).toBe(421);
  });
});

describe("hostAllowed", () => {
  const allowed = (host: string | undefined, listen = "127.0.0.1:9464", extra: string[] = []) => hostAllowed(host, { listen, allowedHosts: extra });

  it("accepts loopback names and the listen address", () => {
    expect(allowed("localhost:9464")).toBe(true);
    expect(allowed("127.0.0.1:9464")).toBe(true);
    expect(allowed("[::1]:9464")).toBe(true);
    expect(allowed("berth.lan:9464", "berth.lan:9464")).toBe(true);
  });

  it("accepts IP literals: a rebinding page can only send a name, and scrapers and probes address pods by IP", () => {
    expect(allowed("10.1.2.3:9464", "0.0.0.0:9464")).toBe(true);
    expect(allowed("[fd00::1]:9464", "[::]:9464")).toBe(true);
  });

  it("refuses other names, malformed hosts, and names that only start or end like an allowed one", () => {
    expect(allowed("evil.example")).toBe(false);
    expect(allowed("localhost.evil.example")).toBe(false);
    expect(allowed("127.0.0.1.nip.io")).toBe(false);
    expect(allowed("evil.example:9464:1")).toBe(false);
    expect(allowed("[::1")).toBe(false);
    expect(allowed("[::1]x")).toBe(false);
    expect(allowed("")).toBe(false);
    expect(allowed("a b")).toBe(false);
  });

  it("accepts a request without a Host header (HTTP/1.0 tools; browsers always send one)", () => {
    expect(allowed(undefined)).toBe(true);
  });
});
