import { expect } from "vitest";
import { buildDesiredModel } from "../../../src/desired/model.ts";
import { createLogger, Redactor } from "../../../src/log/logger.ts";
import { loadManifests } from "../../../src/manifests/load.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { Notifier, type NotifierOptions } from "../../../src/notify/notifier.ts";
import type { Store } from "../../../src/store/index.ts";
import { createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

/** A fake clock: time moves only when the test says so; timers wait until `fire` runs them. */
export function fakeClock(start = Date.UTC(2025, 0, 1)) {
  let now = start;
  const timers = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  return {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => (timers.set(next, { fn, ms }), next++),
    clearTimeout: (handle: unknown) => void timers.delete(handle as number),
    advance: (ms: number) => void (now += ms),
    /** The delays of the timers set and not yet run. */
    pending: () => [...timers.values()].map((t) => t.ms),
    /** Moves time to the first timer and runs it. */
    fire() {
      const [id, timer] = [...timers.entries()][0]!;
      timers.delete(id);
      now += timer.ms;
      timer.fn();
    },
  };
}

/** Lets promises and I/O run until `done` holds (or gives up after a while). */
export async function settle(done: () => boolean = () => false, turns = 200): Promise<void> {
  for (let i = 0; i < turns && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
}

export type Answer = number | "refused" | "hang";

/** Receivers by URL host: each answers with its statuses in turn (the last repeats); "hang" waits until the request is aborted. */
export function receivers(answers: Record<string, Answer[]>) {
  const requests: { url: string; headers: Record<string, string>; body: string }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    requests.push({ url, headers: init.headers as Record<string, string>, body: init.body as string });
    const list = answers[new URL(url).host] ?? [200];
    const answer = list.length > 1 ? list.shift()! : list[0]!;
    if (answer === "refused") throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) });
    if (answer === "hang") {
      await new Promise((_, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason)));
    }
    return new Response("", { status: answer as number });
  }) as unknown as typeof globalThis.fetch;
  return { requests, fetch, to: (host: string) => requests.filter((r) => new URL(r.url).host === host) };
}

/** Manifests with Projects shop (Environment dev, Service web) and blog (Environment www), each with the receivers given. */
export function manifests(shop: string, blog = "", env = "") {
  return {
    "base.yaml": [doc("DeploymentTarget", "local", "type: local"), doc("Project", "shop", shop || "description: shop"), doc("Environment", "dev", "project: shop\ntarget: local"), doc("Project", "blog", blog || "description: blog"), doc("Environment", "www", "project: blog\ntarget: local")].join("---\n"),
    "web.yaml": doc("Service", "web", "project: shop\nimage: web:1"),
    "blog.yaml": doc("Service", "ghost", "project: blog\nimage: ghost:5"),
    "hooks.env": env || "URL_A=https://a.example/hook-a\nURL_B=https://b.example/hook-b\nURL_C=https://c.example/hook-c\n",
  };
}

/** A Notifier over `store` with the manifests of `dir`, a fake clock and a recording log. */
export async function notifierOver(store: Store, dir: ManifestDir, fetch: typeof globalThis.fetch, options: Partial<NotifierOptions> = {}) {
  const clock = (options.clock as ReturnType<typeof fakeClock> | undefined) ?? fakeClock();
  const logs: string[] = [];
  const redactor = options.redactor ?? new Redactor();
  const log = createLogger({ format: "json", write: (line) => logs.push(line), redactor });
  const notifier = new Notifier({ store, redactor, log, metrics: new Metrics({ processMetrics: false }), fetch, daemonEnv: {}, ...options, clock });
  const load = async () => {
    const state = await loadManifests(dir.dir);
    expect(state.errors).toEqual([]);
    notifier.desiredChanged(state, buildDesiredModel(state, { daemonEnv: {} }));
    await notifier.flush();
  };
  await load();
  return { notifier, clock, logs, redactor, load };
}

export { createManifestDir, doc, type ManifestDir };
