import { afterEach, describe, expect, it } from "vitest";
import type { RolloutReport } from "../../../src/engine/observer.ts";
import { loadManifests } from "../../../src/manifests/load.ts";
import { slackText } from "../../../src/notify/payload.ts";
import { openStore, type Store } from "../../../src/store/index.ts";
import { createManifestDir, fakeClock, manifests, notifierOver, receivers, settle, type ManifestDir } from "./fixture.ts";

let store: Store | undefined;
let dir: ManifestDir | undefined;
afterEach(() => {
  store?.close();
  dir?.cleanup();
  store = dir = undefined;
});

async function open(shop: string, blog = "", env = "") {
  dir = createManifestDir(manifests(shop, blog, env));
  store = await openStore("file::memory:");
  return { dir, store };
}

const A = "{name: a, urlFrom: {envFile: hooks.env, key: URL_A}}";
const B = "{name: b, urlFrom: {envFile: hooks.env, key: URL_B}, format: slack}";
const failed: RolloutReport = { key: "Service/dev/web", revision: "a".repeat(64), trigger: "manifest", state: "stalled", phase: "Failed", outcome: "failed", failure: "http check: status 404", hasHealthCheck: true };

describe("delivery when the store fails", () => {
  it("never sends a row again while its outcome waits to be saved, and waits at least pollMs after such a round", async () => {
    const { dir, store } = await open(`notifications: [${A}]`);
    const rx = receivers({});
    const { notifier, clock, logs } = await notifierOver(store, dir, rx.fetch, { pollMs: 5000 });
    await notifier.notify({ event: "rollout.succeeded", project: "shop", message: "m", dedupeKey: "k1" });
    const delivered = store.notifications.delivered.bind(store.notifications);
    let full = true;
    store.notifications.delivered = async (...args) => (full ? Promise.reject(new Error("SQLITE_FULL: database or disk is full")) : delivered(...args));
    notifier.start();
    for (let round = 0; round < 4; round++) {
      clock.fire();
      await settle(() => clock.pending().length > 0);
      expect(clock.pending()[0]).toBeGreaterThanOrEqual(5000);
    }
    expect(rx.requests).toHaveLength(1);
    expect(logs.filter((l) => l.includes("notification outcome not saved"))).toHaveLength(1);
    full = false;
    clock.fire();
    await settle(() => clock.pending().length > 0);
    expect(rx.requests).toHaveLength(1);
    expect((await store.notifications.list())[0]).toMatchObject({ state: "delivered", attempts: 1 });
    await notifier.stop();
  });
});

describe("receiver identity", () => {
  it("sends each pending row to the receiver it was queued for after a reorder, and drops a removed receiver's rows", async () => {
    const unnamedA = "{urlFrom: {envFile: hooks.env, key: URL_A}}";
    const unnamedB = "{urlFrom: {envFile: hooks.env, key: URL_B}, format: slack}";
    const { dir, store } = await open(`notifications: [${unnamedA}, ${unnamedB}]`);
    const rx = receivers({ "a.example": ["refused", 200], "b.example": ["refused", 200] });
    const { notifier, clock, load } = await notifierOver(store, dir, rx.fetch);
    notifier.rolloutChanged(failed);
    await notifier.flush();
    await notifier.delivery.deliverDue();
    dir.write("base.yaml", manifests(`notifications: [${unnamedB}, ${unnamedA}]`)["base.yaml"]);
    await load();
    clock.advance(60_000);
    await notifier.delivery.deliverDue();
    // The same row (X-Berth-Delivery) went to the same URL twice.
    const deliveries = (host: string) => rx.to(host).map((r) => r.headers["x-berth-delivery"]);
    expect(deliveries("a.example")).toEqual(["1", "1"]);
    expect(deliveries("b.example")).toEqual(["2", "2"]);
    // Removing a receiver: its pending rows are dropped, never sent to the one left.
    await notifier.notify({ event: "drift.repaired", project: "shop", message: "m", dedupeKey: "d1" });
    rx.requests.length = 0;
    dir.write("base.yaml", manifests(`notifications: [${unnamedB}]`)["base.yaml"]);
    await load();
    expect(await notifier.delivery.deliverDue()).toEqual({ delivered: 1, failed: 0, dropped: 1 });
    const rows = await store.notifications.list();
    const kept = rows.find((r) => r.dedupeKey.startsWith("d1|") && r.state === "delivered")!;
    expect(rows.find((r) => r.dedupeKey.startsWith("d1|") && r.state === "dropped")!.receiver).toBe(rows[0]!.receiver);
    expect(rx.requests.map((r) => [new URL(r.url).host, r.headers["x-berth-delivery"]])).toEqual([["b.example", String(kept.id)]]);
    expect(kept.receiver).toBe(rows[1]!.receiver);
  });

  it("refuses two receivers of one Project with the same name, or unnamed ones reading the same URL, and a name that is no DNS label", async () => {
    const { dir } = await open(`notifications: [${A}, {name: a, urlFrom: {envFile: hooks.env, key: URL_B}}, {urlFrom: {daemonEnv: X}}, {urlFrom: {daemonEnv: X}}]`);
    const messages = (await loadManifests(dir.dir)).errors.map((e) => e.message).join("\n");
    expect(messages).toMatch(/Project\/shop: receiver name a is already used by notifications\[0\]/);
    expect(messages).toMatch(/notifications\[2\] reads the same urlFrom and signingSecretFrom in the same format/);
    dir.write("base.yaml", manifests("notifications: [{name: Ops_Slack, urlFrom: {daemonEnv: X}}]")["base.yaml"]);
    expect((await loadManifests(dir.dir)).errors.map((e) => e.message).join("\n")).toMatch(/Ops_Slack/);
  });
});

describe("secrets in failures", () => {
  it("sends URL credentials as Basic authorization and keeps the URL and password out of the outbox and the log", async () => {
    const env = "URL_C=https://user:pa55w0rd-secret@c.example/hook-c\n";
    const { dir, store } = await open("notifications: [{urlFrom: {envFile: hooks.env, key: URL_C}}]", "", env);
    const rx = receivers({ "c.example": [200] });
    const leaky = (async (url: string, init: RequestInit) => {
      await rx.fetch(url, init);
      throw new TypeError("fetch failed", { cause: new Error(`getaddrinfo EAI_AGAIN for https://user:pa55w0rd-secret@c.example/hook-c and ${url}`) });
    }) as unknown as typeof fetch;
    const { notifier, logs, redactor } = await notifierOver(store, dir, leaky);
    await notifier.notify({ event: "source.failed", message: "m", dedupeKey: "s1" });
    await notifier.delivery.deliverDue();
    const [request] = rx.requests;
    expect(request!.url).toBe("https://c.example/hook-c");
    expect(request!.headers.authorization).toBe(`Basic ${Buffer.from("user:pa55w0rd-secret").toString("base64")}`);
    const [row] = await store.notifications.list();
    expect(row!.lastError).toMatch(/^the request failed: getaddrinfo EAI_AGAIN for \*\*\* and \*\*\*$/);
    expect(logs.join("\n")).toContain("getaddrinfo EAI_AGAIN");
    expect(JSON.stringify(row) + logs.join("\n")).not.toMatch(/pa55w0rd|c\.example/);
    expect(redactor.redact("token pa55w0rd-secret")).not.toContain("pa55w0rd");
  });
});

describe("which rollouts are told, and to whom", () => {
  const BLOG = "notifications: [{name: blog, urlFrom: {envFile: hooks.env, key: URL_C}}]";

  it.each([
    { name: "superseded by a newer revision", failure: "superseded by revision bbbbbbbbbbbb" },
    { name: "a removed service", failure: "superseded: the service was removed from the manifests" },
    { name: "a suspended environment", failure: "superseded: the environment was suspended" },
  ])("does not report a rollout superseded by $name as failed", async ({ failure }) => {
    const { dir, store } = await open(`notifications: [${A}]`);
    const { notifier } = await notifierOver(store, dir, receivers({}).fetch);
    notifier.rolloutChanged({ ...failed, state: "superseded", failure });
    await notifier.flush();
    expect(await store.notifications.list()).toEqual([]);
  });

  it("sends a rollout of an unknown environment to no one, and one of a removed environment to its project's receivers only", async () => {
    const { dir, store } = await open(`notifications: [${A}]`, BLOG);
    const { notifier, load } = await notifierOver(store, dir, receivers({}).fetch);
    notifier.rolloutChanged({ ...failed, key: "Service/nowhere/web" });
    await notifier.flush();
    expect(await store.notifications.list()).toEqual([]);
    // dev is renamed staging: its rollout ends after the manifests dropped it.
    dir.write("base.yaml", manifests(`notifications: [${A}]`, BLOG)["base.yaml"].replace("name: dev", "name: staging"));
    await load();
    notifier.rolloutChanged({ ...failed, outcome: "success", state: "complete" });
    await notifier.flush();
    expect((await store.notifications.list()).map((r) => r.receiver)).toEqual(["Project/shop/a"]);
  });
});

describe("two processes", () => {
  it("send each due row once when both deliver at the same time", async () => {
    const { dir, store } = await open(`notifications: [${A}]`);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const rx = receivers({});
    const slow = (async (url: string, init: RequestInit) => (await gate, rx.fetch(url, init))) as unknown as typeof fetch;
    const daemon = await notifierOver(store, dir, slow);
    const apply = await notifierOver(store, dir, slow);
    for (const k of ["1", "2", "3"]) await daemon.notifier.notify({ event: "rollout.succeeded", project: "shop", message: k, dedupeKey: k });
    const rounds = Promise.all([daemon.notifier.delivery.deliverDue(), apply.notifier.delivery.deliverDue()]);
    await settle(() => false, 20);
    release();
    const [a, b] = await rounds;
    expect(a.delivered + b.delivered).toBe(3);
    expect(rx.requests).toHaveLength(3);
  });

  it("berth apply sends only the rows it queued", async () => {
    const { dir, store } = await open(`notifications: [${A}]`);
    const rx = receivers({});
    const daemon = await notifierOver(store, dir, rx.fetch);
    const apply = await notifierOver(store, dir, rx.fetch);
    await daemon.notifier.notify({ event: "rollout.succeeded", project: "shop", message: "daemon's", dedupeKey: "d" });
    await apply.notifier.notify({ event: "rollout.succeeded", project: "shop", message: "apply's", dedupeKey: "a" });
    await apply.notifier.sendOnce();
    expect(rx.requests.map((r) => JSON.parse(r.body).message)).toEqual(["apply's"]);
  });
});

describe("after a crash", () => {
  it("queues rollouts of the last 24 h that ended without a notification, once, and not superseded ones", async () => {
    const { dir, store } = await open(`notifications: [${A}]`);
    const ended = async (status: "success" | "failed", error?: string) => {
      const id = await store.deployments.start({ service: "Service/dev/web", revision: "c".repeat(64), image: "web:1" });
      await store.deployments.finish(id, { status, error });
      return id;
    };
    const lost = await ended("failed", "http check: status 500");
    await ended("failed", "superseded by revision dddddddddddd");
    const clock = fakeClock(Date.now());
    const first = await notifierOver(store, dir, receivers({}).fetch, { clock });
    await first.notifier.flush();
    const rows = await store.notifications.list();
    expect(rows.map((r) => [r.dedupeKey, r.event])).toEqual([[`deployment:${lost}:failed|Project/shop/a`, "rollout.failed"]]);
    expect(JSON.parse(rows[0]!.payload).message).toContain("status 500");
    await (await notifierOver(store, dir, receivers({}).fetch, { clock })).notifier.flush();
    expect(await store.notifications.list()).toHaveLength(1);
    await ended("success");
    clock.advance(25 * 3_600_000);
    await (await notifierOver(store, dir, receivers({}).fetch, { clock })).notifier.flush();
    expect(await store.notifications.list()).toHaveLength(1);
  });
});

describe("a receiver that does not answer", () => {
  it("holds up neither the other receivers nor its own other rows, and stop() cuts its request short", async () => {
    const { dir, store } = await open(`notifications: [${A}, ${B}]`);
    const rx = receivers({ "a.example": ["hang"], "b.example": [200] });
    const { notifier, clock } = await notifierOver(store, dir, rx.fetch, { timeoutMs: 50 });
    for (const k of ["1", "2", "3"]) await notifier.notify({ event: "rollout.failed", project: "shop", message: k, dedupeKey: k });
    expect(await notifier.delivery.deliverDue()).toEqual({ delivered: 3, failed: 1, dropped: 0 });
    expect(rx.to("a.example")).toHaveLength(1);
    const pendingA = (await store.notifications.list({ state: "pending" })).map((r) => [r.attempts, r.nextAttemptAt - clock.now()]);
    expect(pendingA).toEqual([[1, 1000], [0, 1000], [0, 1000]]);
    notifier.start();
    clock.advance(1000);
    clock.fire();
    await settle(() => rx.to("a.example").length === 2);
    const started = Date.now();
    await notifier.stop();
    expect(Date.now() - started).toBeLessThan(40);
    expect((await store.notifications.list({ state: "pending" })).map((r) => r.attempts)).toEqual([1, 0, 0]);
  });
});

describe("repaired drift", () => {
  it("is told once per service and change within 10 minutes", async () => {
    const { dir, store } = await open(`notifications: [${A}]`);
    const { notifier, clock } = await notifierOver(store, dir, receivers({}).fetch);
    const drift = { key: "Service/dev/web", kind: "Service" as const, name: "web", phase: "Running", previousPhase: "Running", message: "", ready: true, converged: true, terminal: false, newError: false, drift: true, specHash: "e".repeat(64), changes: [{ path: "containers[0].state", observed: "exited", desired: "running" }] };
    clock.advance(1000);
    notifier.reconciled(drift);
    clock.advance(60_000);
    notifier.reconciled(drift);
    notifier.reconciled({ ...drift, changes: [{ path: "containers[0].image", observed: "web:0", desired: "web:1" }] });
    clock.advance(10 * 60_000);
    notifier.reconciled(drift);
    await notifier.flush();
    expect((await store.notifications.list()).map((r) => JSON.parse(r.payload).message.split(": ").at(-2))).toEqual(["containers[0].state", "containers[0].image", "containers[0].state"]);
  });
});

describe("slack text", () => {
  it("escapes &, < and > as Slack requires", () => {
    const text = slackText({ event: "source.failed", time: "", project: null, environment: null, service: null, revision: null, imageDigest: null, commit: null, outcome: "failed", duration: null, message: "<!channel> a & b -> <https://x|y>" });
    expect(text).toBe("[berth] source.failed: &lt;!channel&gt; a &amp; b -&gt; &lt;https://x|y&gt;");
  });
});
