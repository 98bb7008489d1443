import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiError, callApi, servicePath } from "../../../src/cli/api-client.ts";
import type { CliIO } from "../../../src/cli/context.ts";

// ---------------------------------------------------------------------------
// Helpers: a tiny daemon on 127.0.0.1 that records what it was sent and
// answers what the test scripted; an io whose env the test sets.
// ---------------------------------------------------------------------------

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
let answer: { status: number; body: string; type?: string } = { status: 200, body: "{}" };

beforeAll(async () => {
  server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    res.writeHead(answer.status, { "content-type": answer.type ?? "application/json" });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const dirs: string[] = [];
afterEach(() => {
  seen.splice(0);
  answer = { status: 200, body: "{}" };
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const io = (env: NodeJS.ProcessEnv = {}): CliIO => ({ stdout: () => {}, stderr: () => {}, env });

/** A file holding `content`, as --token-file would name it. */
function tokenFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-api-client-"));
  dirs.push(dir);
  const file = join(dir, "token");
  writeFileSync(file, content);
  return file;
}

/** A port on which nothing listens: bound once, then released. */
async function deadPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe("servicePath", () => {
  it("takes Service/env/name, with or without the kind", () => {
    expect(servicePath("Service/production/web", undefined)).toBe("production/web");
    expect(servicePath("production/web", undefined)).toBe("production/web");
  });

  it("takes Service/name or a bare name with --env", () => {
    expect(servicePath("Service/web", "production")).toBe("production/web");
    expect(servicePath("web", "dev")).toBe("dev/web");
  });

  it("prefers the environment written in the argument over --env", () => {
    expect(servicePath("Service/dev/web", "production")).toBe("dev/web");
  });

  it("encodes each segment for the URL", () => {
    expect(servicePath("Service/my env/web?x", undefined)).toBe("my%20env/web%3Fx");
    expect(servicePath("web#1", "pr/12")).toBe("pr%2F12/web%231");
  });

  it("refuses a name without an environment, with an example of what works", () => {
    for (const arg of ["Service/web", "web"]) {
      const call = () => servicePath(arg, undefined);
      expect(call).toThrow(ApiError);
      expect(call).toThrow(`cannot tell which service "${arg}" means`);
      expect(call).toThrow("e.g. Service/web --env production, or Service/production/web");
    }
  });

  it("refuses empty segments and too many of them", () => {
    for (const arg of ["Service/", "", "Service//web", "Service/dev/", "Service/a/b/c"]) expect(() => servicePath(arg, "dev"), arg).toThrow(ApiError);
  });
});

describe("callApi", () => {
  it("says that no daemon answers, and where it asked, when nothing listens", async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const error = await apiError(callApi(io(), { server: dead }, "GET", "/api/v1/services/dev/web/rollout"));
    expect(error.name).toBe("ApiError");
    expect(error.message).toContain(`no Berth daemon answers at ${dead}`);
    expect(error.message).toContain("--server <url>");
    expect(error.message).toContain("ECONNREFUSED");
  });

  it("returns the parsed body of a 2xx answer", async () => {
    answer = { status: 202, body: JSON.stringify({ service: "Service/dev/web", accepted: "retry" }) };
    const body = await callApi(io(), { server: base }, "POST", "/api/v1/services/dev/web/retry");
    expect(body).toEqual({ service: "Service/dev/web", accepted: "retry" });
    expect(seen).toEqual([expect.objectContaining({ method: "POST", url: "/api/v1/services/dev/web/retry" })]);
  });

  it("returns an empty object when a 2xx answer is not JSON", async () => {
    answer = { status: 200, body: "ok", type: "text/plain" };
    expect(await callApi(io(), { server: base }, "GET", "/")).toEqual({});
  });

  it("throws an ApiError with the status and the daemon's error on a 4xx answer", async () => {
    answer = { status: 409, body: JSON.stringify({ error: "Service/dev/web has a rollout in progress; wait for it to finish" }) };
    const error = await apiError(callApi(io(), { server: base }, "POST", "/api/v1/services/dev/web/rollback", {}));
    expect(error.message).toBe(`${base} answered 409: Service/dev/web has a rollout in progress; wait for it to finish`);
  });

  it("falls back to the status text when an error answer carries no error field", async () => {
    answer = { status: 404, body: "nothing here", type: "text/plain" };
    const error = await apiError(callApi(io(), { server: base }, "GET", "/nope"));
    expect(error.message).toBe(`${base} answered 404: Not Found`);
  });

  it("sends the body as JSON", async () => {
    await callApi(io(), { server: base }, "POST", "/api/v1/services/dev/web/rollback", { to: "3f2a9c1b7d4e" });
    expect(seen[0]!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(seen[0]!.body)).toEqual({ to: "3f2a9c1b7d4e" });
  });

  it("POSTs with the bearer token from BERTH_API_TOKEN", async () => {
    await callApi(io({ BERTH_API_TOKEN: "from-env" }), { server: base }, "POST", "/api/v1/services/dev/web/retry");
    expect(seen[0]!.headers.authorization).toBe("Bearer from-env");
  });

  it("POSTs with the trimmed token of --token-file, which wins over BERTH_API_TOKEN", async () => {
    await callApi(io({ BERTH_API_TOKEN: "from-env" }), { server: base, tokenFile: tokenFile("  from-file\n") }, "POST", "/api/v1/services/dev/web/retry");
    expect(seen[0]!.headers.authorization).toBe("Bearer from-file");
  });

  it("POSTs without authorization when no token is known", async () => {
    await callApi(io(), { server: base }, "POST", "/api/v1/services/dev/web/retry");
    expect(seen[0]!.headers.authorization).toBeUndefined();
  });

  it("never sends the token with a GET", async () => {
    await callApi(io({ BERTH_API_TOKEN: "from-env" }), { server: base }, "GET", "/api/v1/services/dev/web/rollout");
    await callApi(io(), { server: base, tokenFile: tokenFile("from-file") }, "GET", "/api/v1/services/dev/web/rollout");
    expect(seen.map((s) => s.headers.authorization)).toEqual([undefined, undefined]);
  });

  it("asks the server in BERTH_SERVER when there is no --server, and --server when both are given", async () => {
    await callApi(io({ BERTH_SERVER: `${base}/` }), {}, "GET", "/from-env");
    await callApi(io({ BERTH_SERVER: `http://127.0.0.1:${await deadPort()}` }), { server: base }, "GET", "/from-option");
    expect(seen.map((s) => s.url)).toEqual(["/from-env", "/from-option"]);
  });

  it("names the BERTH_SERVER address when nothing listens there", async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const error = await apiError(callApi(io({ BERTH_SERVER: dead }), {}, "GET", "/api/v1/resources"));
    expect(error.message).toContain(`no Berth daemon answers at ${dead} (`);
  });
});
