import { describe, expect, it } from "vitest";
import type { DesiredService } from "../../../src/desired/model.ts";
import { hashOf } from "../../../src/desired/hash.ts";
import { desiredAtRevision, revisionHash, revisionSpecOf, RevisionRestoreError, type RevisionSpec } from "../../../src/desired/revision.ts";
import type { HealthCheck } from "../../../src/manifests/types.ts";

// ---------------------------------------------------------------------------
// Helpers: DesiredService objects written by hand, one field changed per test.
// ---------------------------------------------------------------------------

const SECRET = "pa55w0rd-never-stored";
const REVISION = "a".repeat(64);
const check: HealthCheck = { http: { method: "GET", path: "/healthz", port: 8080 }, interval: "10s", timeout: "2s", retries: 3, startPeriod: "0s" };

/** Service `web` in Environment `dev`, with one secret (DB_PASSWORD) among its env. */
function service(overrides: Partial<DesiredService> = {}): DesiredService {
  return {
    key: "Service/dev/web",
    project: "shop",
    environment: "dev",
    service: "web",
    target: "local",
    replicas: 2,
    suspended: false,
    image: { ref: "nginx:1.27", pullPolicy: "IfNotPresent" },
    dependsOn: [],
    healthCheck: check,
    restartPolicy: "always",
    stopGraceSeconds: 10,
    strategy: "rolling",
    healthTimeout: "2m",
    maxSurge: 1,
    maxUnavailable: 0,
    autoRollback: true,
    template: {
      Image: "nginx:1.27",
      Env: ["LOG_LEVEL=info", `DB_PASSWORD=${SECRET}`, "GREETING=a=b"],
      Labels: { "dev.berth.service": "web" },
      HostConfig: { NetworkMode: "shop-dev" },
    },
    extraNetworks: ["shop-dev-backend"],
    specHash: REVISION,
    secretNames: ["DB_PASSWORD"],
    backups: [],
    ...overrides,
  };
}

/** The current service with DB_PASSWORD set to `value`. */
const withPassword = (value: string, base = service()) => ({ ...base, template: { ...base.template, Env: ["LOG_LEVEL=info", `DB_PASSWORD=${value}`, "GREETING=a=b"] } });

describe("revisionSpecOf", () => {
  it("replaces the values of secret env entries and keeps every other entry as is", () => {
    const spec = revisionSpecOf(service());
    const env = spec.template.Env!;
    expect(env).toHaveLength(3);
    expect(env[0]).toBe("LOG_LEVEL=info");
    expect(env[1]).toMatch(/^DB_PASSWORD=/);
    expect(env[1]).not.toBe(`DB_PASSWORD=${SECRET}`);
    expect(env[2]).toBe("GREETING=a=b");
    expect(spec.secretNames).toEqual(["DB_PASSWORD"]);
  });

  it("stores no secret value anywhere in the spec", () => {
    expect(JSON.stringify(revisionSpecOf(service()))).not.toContain(SECRET);
  });

  it("does not touch the service it was given", () => {
    const current = service();
    revisionSpecOf(current);
    expect(current.template.Env).toContain(`DB_PASSWORD=${SECRET}`);
  });

  it("keeps the revision, image, health check and extra networks, and whether the image was built", () => {
    const spec = revisionSpecOf(service());
    expect(spec).toMatchObject({ revision: REVISION, image: { ref: "nginx:1.27", pullPolicy: "IfNotPresent", built: false }, healthCheck: check, extraNetworks: ["shop-dev-backend"] });
    const built = revisionSpecOf(service({ image: { ref: "berth-build/shop-web:0123456789ab", pullPolicy: "Never", build: { dir: "/src/web", files: ["Dockerfile"], dockerfile: "Dockerfile" } } }));
    expect(built.image).toEqual({ ref: "berth-build/shop-web:0123456789ab", pullPolicy: "Never", built: true });
  });

  it("survives a JSON round trip (what the store keeps)", () => {
    const spec = revisionSpecOf(service());
    const restored = desiredAtRevision(service(), JSON.parse(JSON.stringify(spec)) as RevisionSpec);
    expect(restored.template.Env).toEqual(service().template.Env);
  });
});

describe("desiredAtRevision", () => {
  it("round-trips: the same current service gives back the same env, and the stored revision as specHash", () => {
    const current = service();
    const restored = desiredAtRevision(current, revisionSpecOf(current));
    expect(restored.template.Env).toEqual(current.template.Env);
    expect(restored.template).toEqual(current.template);
    expect(restored.specHash).toBe(REVISION);
    expect(restored.error).toBeUndefined();
  });

  it("takes image, health check, extra networks, template and secret names from the stored revision", () => {
    const old = service({
      specHash: "b".repeat(64),
      image: { ref: "nginx:1.25", pullPolicy: "Always" },
      healthCheck: { tcp: { port: 5432 }, interval: "5s", timeout: "1s", retries: 5, startPeriod: "30s" },
      extraNetworks: ["shop-dev-legacy"],
      template: { Image: "nginx:1.25", Env: ["LOG_LEVEL=debug", `DB_PASSWORD=${SECRET}`], Cmd: ["old"] },
    });
    const stored = revisionSpecOf(old);
    const current = service({ healthCheck: undefined, extraNetworks: [], replicas: 5 });
    const restored = desiredAtRevision(current, stored);
    expect(restored.specHash).toBe("b".repeat(64));
    expect(restored.image).toEqual({ ref: "nginx:1.25", pullPolicy: "Always" });
    expect(restored.healthCheck).toEqual({ tcp: { port: 5432 }, interval: "5s", timeout: "1s", retries: 5, startPeriod: "30s" });
    expect(restored.extraNetworks).toEqual(["shop-dev-legacy"]);
    expect(restored.template).toEqual({ Image: "nginx:1.25", Env: ["LOG_LEVEL=debug", `DB_PASSWORD=${SECRET}`], Cmd: ["old"] });
    expect(restored.secretNames).toEqual(["DB_PASSWORD"]);
    // What is not part of a revision comes from the current manifests.
    expect(restored.replicas).toBe(5);
    expect(restored.key).toBe("Service/dev/web");
  });

  it("reuses a built image without building again: pullPolicy Never, no build context", () => {
    const old = service({ image: { ref: "berth-build/shop-web:0123456789ab", pullPolicy: "Never", build: { dir: "/src/web", files: ["Dockerfile"], dockerfile: "Dockerfile" } } });
    const restored = desiredAtRevision(service(), revisionSpecOf(old));
    expect(restored.image).toEqual({ ref: "berth-build/shop-web:0123456789ab", pullPolicy: "Never" });
    expect(restored.image.build).toBeUndefined();
  });

  it("clears a current spec error, since the stored revision was runnable", () => {
    const stored = revisionSpecOf(service());
    const restored = desiredAtRevision({ ...service(), error: "env file missing" }, stored);
    expect(restored.error).toBeUndefined();
  });

  it("gives a secret today's value when it changed since the revision was stored", () => {
    const stored = revisionSpecOf(service());
    const restored = desiredAtRevision(withPassword("rotated-value"), stored);
    expect(restored.template.Env).toEqual(["LOG_LEVEL=info", "DB_PASSWORD=rotated-value", "GREETING=a=b"]);
  });

  it("refuses when the current manifests no longer provide a secret, naming the variable", () => {
    const stored = revisionSpecOf(service());
    const gone = service({ template: { ...service().template, Env: ["LOG_LEVEL=info"] }, secretNames: [] });
    expect(() => desiredAtRevision(gone, stored)).toThrow(RevisionRestoreError);
    expect(() => desiredAtRevision(gone, stored)).toThrow(/DB_PASSWORD/);
    expect(() => desiredAtRevision(gone, stored)).toThrow(REVISION.slice(0, 12));
  });

  it("refuses when the variable still exists but is no longer a secret", () => {
    const stored = revisionSpecOf(service());
    const plain = withPassword("now-in-plain-sight", service({ secretNames: [] }));
    let error: unknown;
    try {
      desiredAtRevision(plain, stored);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RevisionRestoreError);
    expect((error as Error).name).toBe("RevisionRestoreError");
    expect((error as Error).message).toContain("needs secret DB_PASSWORD");
    expect((error as Error).message).toContain("Service/dev/web");
  });
});

describe("revisionHash", () => {
  const revisionOf = (s: DesiredService) => revisionHash({ template: s.template, extraNetworks: s.extraNetworks, healthCheck: s.healthCheck });
  const exec: HealthCheck = { exec: { command: ["true"] }, interval: "10s", timeout: "2s", retries: 3, startPeriod: "0s" };

  it("covers Berth's own http and tcp checks, which Docker's template does not show", () => {
    const at = (healthCheck: HealthCheck | undefined) => revisionOf(service({ healthCheck }));
    const hashes = [
      at(undefined),
      at(check),
      at({ ...check, http: { ...check.http!, path: "/ready" } }),
      at({ ...check, interval: "30s" }),
      at({ ...check, http: undefined, tcp: { port: 8080 } }),
    ];
    expect(new Set(hashes).size).toBe(hashes.length);
  });

  it("leaves the revision of a service without a check, or with an exec check (in the template), as it was before probes were hashed", () => {
    // Upgrading Berth must not roll out every such service.
    for (const s of [service({ healthCheck: undefined }), service({ healthCheck: exec })]) {
      expect(revisionOf(s)).toBe(hashOf({ template: s.template, extraNetworks: s.extraNetworks }));
    }
  });

  it("ignores what only says how many run, whether they run, and how a rollout proceeds", () => {
    const base = revisionOf(service());
    for (const other of [
      service({ replicas: 7 }),
      service({ suspended: true }),
      service({ strategy: "recreate", maxSurge: 0, maxUnavailable: 2, healthTimeout: "10m", autoRollback: false }),
    ]) {
      expect(revisionOf(other)).toBe(base);
    }
  });
});

describe("a restored revision and its health check", () => {
  /** A service as the model builds it: its specHash is the revision of its own fields. */
  const revisioned = (overrides: Partial<DesiredService>) => {
    const s = service(overrides);
    return { ...s, specHash: revisionOf(s) };
  };
  const revisionOf = (s: DesiredService) => revisionHash({ template: s.template, extraNetworks: s.extraNetworks, healthCheck: s.healthCheck });

  it("is judged by the check it was rolled out with, not today's", () => {
    const old = revisioned({ healthCheck: { ...check, http: { ...check.http!, path: "/healthz" } } });
    const current = revisioned({ healthCheck: { ...check, http: { ...check.http!, path: "/ready" }, retries: 10 } });
    // Only the check differs, and that alone is a new revision.
    expect(current.specHash).not.toBe(old.specHash);

    const stored = JSON.parse(JSON.stringify(revisionSpecOf(old))) as RevisionSpec;
    const restored = desiredAtRevision(current, stored);
    expect(restored.specHash).toBe(old.specHash);
    expect(restored.healthCheck).toEqual(old.healthCheck);
    expect(restored.healthCheck?.http?.path).toBe("/healthz");
    // The restored service is exactly the old revision again: its fields hash to its revision.
    expect(revisionOf(restored)).toBe(old.specHash);
  });

  it("is restored without a check when it had none", () => {
    const old = revisioned({ healthCheck: undefined });
    const restored = desiredAtRevision(revisioned({}), JSON.parse(JSON.stringify(revisionSpecOf(old))) as RevisionSpec);
    expect(restored.healthCheck).toBeUndefined();
    expect(revisionOf(restored)).toBe(old.specHash);
  });
});
