import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { buildDesiredModel } from "../../../src/desired/model.ts";
import { createLogger, Redactor } from "../../../src/log/logger.ts";
import { loadManifests } from "../../../src/manifests/load.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { backoffMs } from "../../../src/notify/delivery.ts";
import { Notifier } from "../../../src/notify/notifier.ts";
import { slackText, type NotificationPayload } from "../../../src/notify/payload.ts";
import { openStore, type Store } from "../../../src/store/index.ts";
import { createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

const URL_A = "https://hooks.example.com/services/T000/B000/topsecretpath";
const KEY_A = "signing-key-0123456789";

let store: Store | undefined;
let dir: ManifestDir | undefined;
afterEach(() => {
  store?.close();
  dir?.cleanup();
  store = dir = undefined;
});

/** A fake clock: time moves only when the test says so. */
function fakeClock(start = Date.UTC(2025, 0, 1)) {
  let now = start;
  return { now: () => now, setTimeout: () => 0, clearTimeout: () => {}, advance: (ms: number) => void (now += ms) };
}

/** A receiver that answers with the statuses given, one per request (the last one repeats), and keeps what it got. */
function receiver(statuses: (number | "refused")[]) {
  const requests: { url: string; headers: Record<string, string>; body: string }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    requests.push({ url, headers: init.headers as Record<string, string>, body: init.body as string });
    const status = statuses.length > 1 ? statuses.shift()! : statuses[0]!;
    if (status === "refused") throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) });
    return new Response("", { status });
  }) as unknown as typeof globalThis.fetch;
  return { requests, fetch };
}

const RECEIVERS = `notifications:
  - {name: hook, urlFrom: {envFile: hooks.env, key: URL_A}, signingSecretFrom: {daemonEnv: KEY_A}, format: json}
  - {urlFrom: {envFile: hooks.env, key: URL_A}, format: slack, events: [rollout.failed]}`;

async function setup(statuses: (number | "refused")[], receivers = RECEIVERS) {
  dir = createManifestDir({
    "base.yaml": [doc("DeploymentTarget", "local", "type: local"), doc("Project", "shop", receivers), doc("Environment", "dev", "project: shop\ntarget: local")].join("---\n"),
    "web.yaml": doc("Service", "web", "project: shop\nimage: web:1"),
    "hooks.env": `URL_A=${URL_A}\n`,
  });
  store = await openStore("file::memory:");
  const clock = fakeClock();
  const logs: string[] = [];
  const redactor = new Redactor();
  const log = createLogger({ format: "json", write: (line) => logs.push(line), redactor });
  const metrics = new Metrics({ processMetrics: false });
  const rx = receiver(statuses);
  const notifier = new Notifier({ store, redactor, log, metrics, clock, fetch: rx.fetch, daemonEnv: { KEY_A } });
  const state = await loadManifests(dir.dir);
  expect(state.errors).toEqual([]);
  notifier.desiredChanged(state, buildDesiredModel(state, { daemonEnv: {} }));
  const count = async (outcome: string) => (await metrics.registry.getSingleMetric("berth_notifications_total")!.get()).values.find((v) => v.labels.outcome === outcome)!.value;
  return { notifier, clock, logs, rx, store: store!, count, state };
}

const rolledBack = { key: "Service/dev/web", revision: "a".repeat(64), previous: "b".repeat(64), trigger: "manifest", state: "rolledBack", phase: "Running", outcome: "rolled_back" as const, failure: "http check: status 404", hasHealthCheck: true };

describe("backoff", () => {
  it.each([
    { attempts: 1, want: 1000 },
    { attempts: 2, want: 2000 },
    { attempts: 5, want: 16_000 },
    { attempts: 10, want: 512_000 },
    { attempts: 11, want: 600_000 },
    { attempts: 40, want: 600_000 },
  ])("attempt $attempts waits $want ms", ({ attempts, want }) => {
    expect(backoffMs(attempts, 1000, 600_000)).toBe(want);
  });
});

describe("notifier", () => {
  it("queues a rolled-back rollout once per receiver that listens, never as a success, keyed on its deployments row", async () => {
    const { notifier, store } = await setup([200]);
    const id = await store.deployments.start({ service: rolledBack.key, revision: rolledBack.revision, image: "web:2", commit: "c0ffee1234567890" });
    await store.deployments.finish(id, { status: "rolled_back", imageDigest: "web@sha256:" + "d".repeat(64) });
    notifier.rolloutChanged({ ...rolledBack, deploymentId: id });
    notifier.rolloutChanged({ ...rolledBack, deploymentId: id }); // reported again, as after a restart
    await notifier.flush();
    const rows = await store.notifications.list();
    // The slack receiver hears only rollout.failed.
    expect(rows.map((r) => [r.receiver, r.event, r.dedupeKey])).toEqual([["Project/shop/hook", "rollout.rolled_back", `deployment:${id}:rolled_back|Project/shop/hook`]]);
    const payload = JSON.parse(rows[0]!.payload) as NotificationPayload;
    expect(payload).toMatchObject({ event: "rollout.rolled_back", outcome: "rolled_back", project: "shop", environment: "dev", service: "web", revision: rolledBack.revision, commit: "c0ffee1234567890", imageDigest: "web@sha256:" + "d".repeat(64) });
    expect(payload.duration).toBeGreaterThanOrEqual(0);
    expect(payload.message).toContain("status 404");
    expect(JSON.stringify(rows)).not.toContain("topsecretpath");
  });

  it("signs the raw JSON body with the receiver's key and marks the row delivered", async () => {
    const { notifier, store, rx, count } = await setup([200]);
    await notifier.notify({ event: "source.failed", message: "git fetch failed: repository not found", dedupeKey: "source.failed:1" });
    const round = await notifier.delivery.deliverDue();
    expect(round).toEqual({ delivered: 1, failed: 0, dropped: 0 });
    const [request] = rx.requests;
    expect(request!.url).toBe(URL_A);
    expect(request!.headers["X-Berth-Signature-256"]).toBe(`sha256=${createHmac("sha256", KEY_A).update(request!.body).digest("hex")}`);
    expect(JSON.parse(request!.body)).toMatchObject({ event: "source.failed", outcome: "failed", project: null, message: "git fetch failed: repository not found" });
    expect((await store.notifications.list())[0]).toMatchObject({ state: "delivered", attempts: 1 });
    expect(await count("delivered")).toBe(1);
  });

  it("sends slack-format receivers {text} without a signature when none is declared", async () => {
    const { notifier, rx } = await setup([200]);
    notifier.rolloutChanged({ ...rolledBack, outcome: "failed", state: "failed", previous: undefined });
    await notifier.flush();
    await notifier.delivery.deliverDue();
    const slack = rx.requests.find((r) => !r.headers["X-Berth-Signature-256"]);
    const body = JSON.parse(slack!.body) as { text: string };
    expect(Object.keys(body)).toEqual(["text"]);
    expect(body.text).toMatch(/^\[berth\] rollout\.failed shop\/dev\/web \(revision aaaaaaaaaaaa.*\): revision aaaaaaaaaaaa failed: http check: status 404$/);
  });

  it("retries with doubling delays, logs one line per distinct cause, and delivers once the receiver answers", async () => {
    const { notifier, store, rx, clock, logs, count } = await setup(["refused", "refused", 503, 503, 200]);
    await notifier.notify({ event: "source.unverified", message: "commit not signed", dedupeKey: "u1" });
    const waits: number[] = [];
    for (let round = 0; round < 5; round++) {
      const before = clock.now();
      await notifier.delivery.deliverDue();
      const [row] = await store.notifications.list();
      if (row!.state === "delivered") break;
      waits.push(row!.nextAttemptAt - before);
      // Nothing is sent before the row is due.
      clock.advance(row!.nextAttemptAt - before - 1);
      expect(await notifier.delivery.deliverDue()).toEqual({ delivered: 0, failed: 0, dropped: 0 });
      clock.advance(1);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000]);
    expect(rx.requests).toHaveLength(5);
    expect((await store.notifications.list())[0]).toMatchObject({ state: "delivered", attempts: 5 });
    const failing = logs.filter((l) => l.includes("notification delivery failing"));
    expect(failing.map((l) => JSON.parse(l).error)).toEqual(["the request failed: ECONNREFUSED", "the receiver answered HTTP 503; expected a 2xx status"]);
    expect(logs.filter((l) => l.includes("notification delivery recovered"))).toHaveLength(1);
    expect(logs.join("\n")).not.toContain("topsecretpath");
    expect(await count("failed")).toBe(4);
  });

  it("drops the rows of a receiver no longer declared, with the reason", async () => {
    const { notifier, store, rx, count } = await setup(["refused"]);
    await notifier.notify({ event: "drift.repaired", project: "shop", message: "m", dedupeKey: "d1" });
    await notifier.delivery.deliverDue();
    const state = await loadManifests(dir!.dir);
    dir!.write("base.yaml", [doc("DeploymentTarget", "local", "type: local"), doc("Project", "shop", "description: no hooks"), doc("Environment", "dev", "project: shop\ntarget: local")].join("---\n"));
    const without = await loadManifests(dir!.dir);
    expect(state.errors.concat(without.errors)).toEqual([]);
    notifier.desiredChanged(without, buildDesiredModel(without, { daemonEnv: {} }));
    (await store.notifications.list()).forEach((r) => expect(r.state).toBe("pending"));
    await store.notifications.failed((await store.notifications.list())[0]!.id, 1, "x", 0); // due now
    expect(await notifier.delivery.deliverDue()).toEqual({ delivered: 0, failed: 0, dropped: 1 });
    expect((await store.notifications.list())[0]).toMatchObject({ state: "dropped", lastError: "receiver Project/shop/hook is no longer declared in the manifests" });
    expect(await count("dropped")).toBe(1);
    expect(rx.requests).toHaveLength(1);
  });

  it("tells an invalid manifest once per distinct error, to receivers of every project", async () => {
    const { notifier, store, state } = await setup([200], "notifications: [{urlFrom: {daemonEnv: HOOK}, events: [manifest.invalid]}]");
    dir!.write("broken.yaml", doc("Service", "api", "project: shop\nimage: api:1\nreplicas: many"));
    const broken = await loadManifests(dir!.dir);
    expect(broken.errors).toHaveLength(1);
    const model = buildDesiredModel(broken, { daemonEnv: {} });
    notifier.desiredChanged(broken, model);
    notifier.desiredChanged(broken, model);
    notifier.desiredChanged(state, model);
    await notifier.flush();
    const rows = await store.notifications.list();
    expect(rows.map((r) => r.event)).toEqual(["manifest.invalid"]);
    expect(JSON.parse(rows[0]!.payload).message).toContain("broken.yaml");
  });

  it("refuses a receiver without a URL source, at its line, with an example", async () => {
    dir = createManifestDir({
      "base.yaml": [doc("DeploymentTarget", "local", "type: local"), doc("Project", "shop", "notifications:\n  - {format: teams}"), doc("Environment", "dev", "project: shop\ntarget: local")].join("---\n"),
      "web.yaml": doc("Service", "web", "project: shop\nimage: web:1"),
    });
    const messages = (await loadManifests(dir.dir)).errors.map((e) => e.message).join("\n");
    expect(messages).toMatch(/base\.yaml:\d+:\d+: Project\/shop: .*urlFrom/);
    expect(messages).toMatch(/base\.yaml:\d+:\d+: Project\/shop: teams is not a valid "format"; expected one of json \| slack, e\.g\. slack/);
  });
});

describe("outbox retention", () => {
  it("removes delivered and dropped rows older than the event retention, never pending ones", async () => {
    store = await openStore("file::memory:");
    const day = 86_400_000;
    const old = Date.now() - 30 * day;
    await store.notifications.enqueue(["a", "b", "c", "d"].map((k) => ({ dedupeKey: k, receiver: "Project/shop/hook", event: "rollout.succeeded", payload: "{}" })), old);
    const [a, b, c] = await store.notifications.list();
    await store.notifications.delivered(a!.id, 1, old);
    await store.notifications.dropped([b!.id], "gone", old);
    await store.notifications.delivered(c!.id, 1, Date.now());
    await store.enforceRetention({ healthMs: day, eventsMs: 14 * day, auditMs: day, driftMs: day, deploymentsMs: day });
    expect((await store.notifications.list()).map((r) => [r.dedupeKey, r.state])).toEqual([["c", "delivered"], ["d", "pending"]]);
  });
});

describe("slack text", () => {
  it("names where, revision, commit and duration before the message", () => {
    const text = slackText({ event: "rollout.succeeded", time: "", project: "shop", environment: "prod", service: "web", revision: "f".repeat(64), imageDigest: null, commit: "abc1234def5678", outcome: "succeeded", duration: 95, message: "revision ffffffffffff is running" });
    expect(text).toBe("[berth] rollout.succeeded shop/prod/web (revision ffffffffffff, commit abc1234def56, after 1m35s): revision ffffffffffff is running");
  });
});
