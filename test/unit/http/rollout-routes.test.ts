import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { RevisionRestoreError } from "../../../src/desired/revision.ts";
import { RolloutRequestError, type RolloutApi, type RolloutStatus } from "../../../controllers/service/requests.ts";
import { authorized, rolloutRoute } from "../../../src/http/rollout-routes.ts";

// ---------------------------------------------------------------------------
// Helpers: a request is a Readable carrying method and headers; the rollout
// API is a fake whose calls the tests inspect.
// ---------------------------------------------------------------------------

const TOKEN = "t0ken-of-the-daemon";

/** A fake IncomingMessage: `body` is what the client sent, in chunks. */
function request(method: string, headers: Record<string, string> = {}, ...body: string[]): IncomingMessage {
  const req = Readable.from(body.map((chunk) => Buffer.from(chunk))) as unknown as IncomingMessage;
  return Object.assign(req, { method, headers });
}

const bearer = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

const status: RolloutStatus = { service: "Service/dev/web", manifestRevision: "a".repeat(64), runningRevision: "a".repeat(64), replicas: [] };

function fakeRollouts(overrides: Partial<RolloutApi> = {}) {
  const fake = {
    status: vi.fn<RolloutApi["status"]>(overrides.status ?? (async () => status)),
    rollback: vi.fn<RolloutApi["rollback"]>(overrides.rollback ?? (async () => ({ revision: "b".repeat(64) }))),
    retry: vi.fn<RolloutApi["retry"]>(overrides.retry ?? (async () => undefined)),
  };
  return { fake, rollouts: fake satisfies RolloutApi };
}

const url = (path: string) => new URL(path, "http://berth");

describe("authorized", () => {
  it("accepts exactly the configured bearer token", () => {
    expect(authorized(request("POST", bearer()), TOKEN)).toBe(true);
  });

  it("refuses a request without an authorization header", () => {
    expect(authorized(request("POST"), TOKEN)).toBe(false);
  });

  it("refuses another scheme carrying the right token", () => {
    expect(authorized(request("POST", { authorization: `Basic ${TOKEN}` }), TOKEN)).toBe(false);
    expect(authorized(request("POST", { authorization: TOKEN }), TOKEN)).toBe(false);
  });

  it("refuses a wrong token of the same length", () => {
    const wrong = TOKEN.slice(0, -1) + "X";
    expect(wrong).toHaveLength(TOKEN.length);
    expect(authorized(request("POST", bearer(wrong)), TOKEN)).toBe(false);
  });

  it("refuses a token of a different length (a prefix or a longer one) without throwing", () => {
    expect(authorized(request("POST", bearer(TOKEN.slice(0, 5))), TOKEN)).toBe(false);
    expect(authorized(request("POST", bearer(`${TOKEN}extra`)), TOKEN)).toBe(false);
  });

  it("refuses everyone when no token is configured", () => {
    expect(authorized(request("POST", bearer()), undefined)).toBe(false);
    expect(authorized(request("POST", bearer("")), "")).toBe(false);
  });
});

describe("rolloutRoute", () => {
  it("leaves other paths to the caller", async () => {
    const { rollouts, fake } = fakeRollouts();
    for (const path of ["/api/v1/resources", "/api/v1/services/dev/web", "/api/v1/services/dev/web/rollout/x", "/api/v1/services/dev/web/restart", "/api/v1/services/web/rollout"]) {
      expect(await rolloutRoute(request("GET"), url(path), rollouts, TOKEN)).toBeUndefined();
    }
    expect(fake.status).not.toHaveBeenCalled();
  });

  describe("GET .../rollout", () => {
    it("answers 200 with the rollout API's status, without needing a token", async () => {
      const { rollouts, fake } = fakeRollouts();
      const result = await rolloutRoute(request("GET"), url("/api/v1/services/dev/web/rollout"), rollouts, undefined);
      expect(result).toEqual({ status: 200, body: status });
      expect(fake.status).toHaveBeenCalledWith("Service/dev/web");
    });

    it("answers 404 for a service the manifests do not declare", async () => {
      const { rollouts } = fakeRollouts({ status: async () => undefined });
      const result = await rolloutRoute(request("GET"), url("/api/v1/services/dev/ghost/rollout"), rollouts, TOKEN);
      expect(result?.status).toBe(404);
      expect(result?.body).toEqual({ error: expect.stringContaining("Service/dev/ghost is not declared") });
    });

    it("answers 405 to a POST", async () => {
      const { rollouts, fake } = fakeRollouts();
      const result = await rolloutRoute(request("POST", bearer()), url("/api/v1/services/dev/web/rollout"), rollouts, TOKEN);
      expect(result?.status).toBe(405);
      expect(fake.status).not.toHaveBeenCalled();
    });

    it("decodes URL-encoded environment and service names into the key", async () => {
      const { rollouts, fake } = fakeRollouts();
      await rolloutRoute(request("GET"), url("/api/v1/services/pr%2D12/web%2Eapi/rollout"), rollouts, undefined);
      expect(fake.status).toHaveBeenCalledWith("Service/pr-12/web.api");
    });

    it("answers a client error, not an internal one, to a malformed percent-encoding in the path", async () => {
      // decodeURIComponent("%E0") throws: the route must answer that as a bad request, not an internal error.
      const { rollouts, fake } = fakeRollouts();
      const result = await rolloutRoute(request("GET"), url("/api/v1/services/%E0/web/rollout"), rollouts, undefined).catch((error: unknown) => ({ status: 500, body: { error: String(error) } }));
      expect(result?.status).toBeGreaterThanOrEqual(400);
      expect(result?.status).toBeLessThan(500);
      expect(fake.status).not.toHaveBeenCalled();
    });
  });

  describe("POST .../rollback", () => {
    const path = url("/api/v1/services/dev/web/rollback");

    it("answers 403 when the daemon has no token: the API is read-only", async () => {
      const { rollouts, fake } = fakeRollouts();
      const result = await rolloutRoute(request("POST", bearer()), path, rollouts, undefined);
      expect(result?.status).toBe(403);
      expect((result?.body as { error: string }).error).toContain("--api-token-file");
      expect(fake.rollback).not.toHaveBeenCalled();
    });

    it("answers 401 to a missing or wrong token", async () => {
      const { rollouts, fake } = fakeRollouts();
      expect((await rolloutRoute(request("POST", bearer("wrong")), path, rollouts, TOKEN))?.status).toBe(401);
      expect((await rolloutRoute(request("POST"), path, rollouts, TOKEN))?.status).toBe(401);
      expect(fake.rollback).not.toHaveBeenCalled();
    });

    it("answers 202 with the right token and passes `to` from the JSON body", async () => {
      const { rollouts, fake } = fakeRollouts();
      const result = await rolloutRoute(request("POST", bearer(), '{"to": ', '"3f2a9c1b7d4e"}'), path, rollouts, TOKEN);
      expect(result).toEqual({ status: 202, body: { service: "Service/dev/web", accepted: "rollback", revision: "b".repeat(64) } });
      expect(fake.rollback).toHaveBeenCalledWith("Service/dev/web", "3f2a9c1b7d4e");
    });

    it("rolls back to the previous revision (to undefined) when the body is empty, blank or has no usable `to`", async () => {
      for (const body of [[], ["  \n"], ["{}"], ['{"to": ""}'], ['{"to": 42}'], ["null"]]) {
        const { rollouts, fake } = fakeRollouts();
        const result = await rolloutRoute(request("POST", bearer(), ...body), path, rollouts, TOKEN);
        expect(result?.status).toBe(202);
        expect(fake.rollback).toHaveBeenCalledWith("Service/dev/web", undefined);
      }
    });

    it("answers 400 to a body that is not JSON", async () => {
      const { rollouts, fake } = fakeRollouts();
      const result = await rolloutRoute(request("POST", bearer(), "to=3f2a"), path, rollouts, TOKEN);
      expect(result?.status).toBe(400);
      expect((result?.body as { error: string }).error).toContain("not JSON");
      expect(fake.rollback).not.toHaveBeenCalled();
    });

    it("answers 400 to a body too large to be a rollback request", async () => {
      const { rollouts, fake } = fakeRollouts();
      const result = await rolloutRoute(request("POST", bearer(), "x".repeat(6_000), "x".repeat(6_000)), path, rollouts, TOKEN);
      expect(result?.status).toBe(400);
      expect((result?.body as { error: string }).error).toContain("request body too large");
      expect(fake.rollback).not.toHaveBeenCalled();
    });

    it("answers with the status and message of a RolloutRequestError", async () => {
      const { rollouts } = fakeRollouts({ rollback: async (key) => Promise.reject(new RolloutRequestError(`${key} is not declared in the manifests`, "not-found")) });
      expect(await rolloutRoute(request("POST", bearer()), path, rollouts, TOKEN)).toEqual({ status: 404, body: { error: "Service/dev/web is not declared in the manifests" } });
      const { rollouts: busy } = fakeRollouts({ rollback: async () => Promise.reject(new RolloutRequestError("a rollout is in progress", "conflict")) });
      expect(await rolloutRoute(request("POST", bearer()), path, busy, TOKEN)).toEqual({ status: 409, body: { error: "a rollout is in progress" } });
      const { rollouts: short } = fakeRollouts({ rollback: async () => Promise.reject(new RolloutRequestError('revision "3f" is too short to name one', "invalid")) });
      expect(await rolloutRoute(request("POST", bearer(), '{"to": "3f"}'), path, short, TOKEN)).toEqual({ status: 400, body: { error: 'revision "3f" is too short to name one' } });
    });

    it("answers 409 when the stored revision cannot be restored", async () => {
      const { rollouts } = fakeRollouts({ rollback: async () => Promise.reject(new RevisionRestoreError("revision bbbbbbbbbbbb of Service/dev/web needs secret DB_PASSWORD")) });
      expect(await rolloutRoute(request("POST", bearer()), path, rollouts, TOKEN)).toEqual({ status: 409, body: { error: "revision bbbbbbbbbbbb of Service/dev/web needs secret DB_PASSWORD" } });
    });

    it("lets any other error through to the server's 500 handler", async () => {
      const { rollouts } = fakeRollouts({ rollback: async () => Promise.reject(new Error("database is locked")) });
      await expect(rolloutRoute(request("POST", bearer()), path, rollouts, TOKEN)).rejects.toThrow("database is locked");
    });

    it("answers 405 to a GET", async () => {
      const { rollouts, fake } = fakeRollouts();
      expect((await rolloutRoute(request("GET", bearer()), path, rollouts, TOKEN))?.status).toBe(405);
      expect(fake.rollback).not.toHaveBeenCalled();
    });

    it("decodes URL-encoded names into the key", async () => {
      const { rollouts, fake } = fakeRollouts();
      const result = await rolloutRoute(request("POST", bearer()), url("/api/v1/services/my%20env/we%2Fb/rollback"), rollouts, TOKEN);
      expect(result?.body).toMatchObject({ service: "Service/my env/we/b" });
      expect(fake.rollback).toHaveBeenCalledWith("Service/my env/we/b", undefined);
    });
  });

  describe("POST .../retry", () => {
    const path = url("/api/v1/services/dev/web/retry");

    it("answers 202 with the right token", async () => {
      const { rollouts, fake } = fakeRollouts();
      expect(await rolloutRoute(request("POST", bearer()), path, rollouts, TOKEN)).toEqual({ status: 202, body: { service: "Service/dev/web", accepted: "retry" } });
      expect(fake.retry).toHaveBeenCalledWith("Service/dev/web");
    });

    it("answers 405 to a GET, 403 without a configured token and 401 to a wrong one", async () => {
      const { rollouts, fake } = fakeRollouts();
      expect((await rolloutRoute(request("GET", bearer()), path, rollouts, TOKEN))?.status).toBe(405);
      expect((await rolloutRoute(request("POST", bearer()), path, rollouts, undefined))?.status).toBe(403);
      expect((await rolloutRoute(request("POST", bearer("nope")), path, rollouts, TOKEN))?.status).toBe(401);
      expect(fake.retry).not.toHaveBeenCalled();
    });

    it("answers with the status of a RolloutRequestError", async () => {
      const { rollouts } = fakeRollouts({ retry: async () => Promise.reject(new RolloutRequestError("Service/dev/web has a rollout in progress; wait for it to finish")) });
      expect(await rolloutRoute(request("POST", bearer()), path, rollouts, TOKEN)).toEqual({ status: 409, body: { error: "Service/dev/web has a rollout in progress; wait for it to finish" } });
    });
  });
});
