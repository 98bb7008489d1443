import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.ts";
import { createTestRuntime, eventually, projectContainers, removeProject, uniqueProject } from "../support/berth.ts";
import { createManifestDir, type ManifestDir } from "../support/manifest-dir.ts";
import { freePort, startChild, type Child } from "../support/processes.ts";
import { writeProject, writeService, type TestService } from "../support/project.ts";

/**
 * Two `berth run` daemons on one host sharing one embedded database file:
 * they elect one leader with a lease; only it acts. Killing it with -9 in
 * the middle of a rolling update hands the lease to the other within the
 * lease's duration plus 2 s, and the other finishes the rollout without a
 * duplicate container.
 */
const rt = createTestRuntime(inject("dockerHost"));
const LEASE_MS = 4_000;
const projects: string[] = [];
const cleanups: (() => Promise<unknown> | void)[] = [];
let dir: ManifestDir | undefined;
let work: string | undefined;

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  dir?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});
afterAll(async () => {
  for (const p of projects) await removeProject(rt.docker, p);
});

/** Failures in the first 10 s do not count: a revision slow to answer is still a good one. */
const CHECK = "{http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2, startPeriod: 10s}";
const serving = (delay: number) => ["sh", "-c", `sleep ${delay}; exec httpd -f -p 8080 -h /www`];

interface Daemon {
  name: string;
  port: number;
  child: Child;
  exited: Promise<number | null>;
}

function startDaemon(name: string, manifests: string, db: string): Promise<Daemon> {
  return freePort().then((port) => {
    const child = startChild(process.execPath, ["bin/berth.js", "run", manifests, "--db", db, "--listen", `127.0.0.1:${port}`, "--lease-duration", `${LEASE_MS / 1000}s`, "--log-level", "info"], { ...process.env, DOCKER_HOST: rt.dockerHost });
    const exited = new Promise<number | null>((resolve) => child.process.once("exit", (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGCONT");
      await child.stop();
    });
    return { name, port, child, exited };
  });
}

/** berth_leader as the daemon serves it, or undefined when it does not answer. */
async function leaderGauge(daemon: Daemon): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${daemon.port}/metrics`, { signal: AbortSignal.timeout(1_000) })).text();
    const value = /^berth_leader (\d+)$/m.exec(text)?.[1];
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}

/** Samples both daemons' berth_leader every 200 ms until stopped. */
function sampleLeaders(daemons: Daemon[]) {
  const samples: { at: number; values: (number | undefined)[] }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push({ at: performance.now(), values: await Promise.all(daemons.map(leaderGauge)) });
      await sleep(200);
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
    },
  };
}

async function leaderOf(daemons: Daemon[]): Promise<Daemon> {
  return eventually(async () => {
    const values = await Promise.all(daemons.map(leaderGauge));
    return values.filter((v) => v === 1).length === 1 ? daemons[values.indexOf(1)] : undefined;
  }, 30_000, "one leader");
}

async function newSetup(services: Record<string, TestService>) {
  const project = uniqueProject("ha");
  projects.push(project);
  dir = createManifestDir();
  work = mkdtempSync(join(tmpdir(), "berth-ha-"));
  writeProject(dir, project, rt.dockerHost, services);
  const db = `file:${join(work, "berth.db")}`;
  const store = await openStore(db);
  cleanups.push(() => store.close());
  return { project, db, store };
}

async function settled(store: Store, key: string, count: number): Promise<string> {
  return eventually(async () => {
    const rows = await store.deployments.list({ service: key });
    return rows.length >= count && rows[0]!.status !== "in_progress" ? rows[0]!.status : undefined;
  }, 90_000, `rollout ${count} of ${key} settled`);
}

describe("highly available daemons", () => {
  it("elect one leader that alone acts; kill -9 of the leader mid-rollout hands over within the lease + 2 s, and the rollout finishes without a duplicate container", async () => {
    const web: TestService = { replicas: 2, command: serving(0), healthCheck: CHECK, env: { V: "a" } };
    const { project, db, store } = await newSetup({ web });
    const key = `Service/${project}-dev/web`;
    const a = await startDaemon("a", dir!.dir, db);
    const b = await startDaemon("b", dir!.dir, db);
    const sampler = sampleLeaders([a, b]);
    cleanups.push(() => sampler.stop());
    const leader = await leaderOf([a, b]);
    const follower = leader === a ? b : a;
    expect(await settled(store, key, 1)).toBe("success");

    // The follower serves reads and metrics, points writers at the leader, and never acted.
    const ready = (await (await fetch(`http://127.0.0.1:${follower.port}/readyz`)).json()) as { checks: { name: string; ok: boolean; detail: string }[] };
    expect(ready.checks.find((c) => c.name === "leader")?.detail).toMatch(new RegExp(`^following .* at http://127\\.0\\.0\\.1:${leader.port}$`));
    const deployments = (await (await fetch(`http://127.0.0.1:${follower.port}/api/v1/deployments?service=${encodeURIComponent(key)}`)).json()) as { items: unknown[] };
    expect(deployments.items).toHaveLength(1);
    const refused = await fetch(`http://127.0.0.1:${follower.port}/api/v1/services/${project}-dev/web/retry`, { method: "POST" });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: string }).error).toContain(`http://127.0.0.1:${leader.port}`);
    expect(follower.child.output()).toMatch(/following/);
    expect(follower.child.output()).not.toMatch(/container created|reconciled/);

    // A slow revision: the rolling update takes several seconds; the leader is killed once its first new replica exists.
    writeService(dir!, project, "web", { ...web, command: serving(2), env: { V: "b" } });
    const before = new Set((await projectContainers(rt.docker, project)).map((c) => c.Id));
    await eventually(async () => ((await projectContainers(rt.docker, project)).some((c) => !before.has(c.Id)) ? true : undefined), 30_000, "a new replica");
    const killedAt = performance.now();
    leader.child.process.kill("SIGKILL");
    await leader.exited;
    await eventually(async () => ((await leaderGauge(follower)) === 1 ? true : undefined), LEASE_MS + 5_000, "takeover");
    const takeoverMs = performance.now() - killedAt;
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_MS + 2_000);
    expect(follower.child.output()).toMatch(/"?leading"?.*term[=":]+2/);

    // The new leader resumes the rollout from the record and finishes it: two replicas of the new revision, nothing twice.
    const outcome = await settled(store, key, 2);
    expect(outcome, follower.child.output()).toBe("success");
    const final = await eventually(async () => {
      const containers = (await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "web");
      return containers.length === 2 && containers.every((c) => c.State === "running") ? containers : undefined;
    }, 30_000, "two replicas and nothing else");
    expect(new Set(final.map((c) => c.Labels["dev.berth.spec-hash"])).size).toBe(1);
    expect(new Set(final.map((c) => c.Labels["dev.berth.replica"])).size).toBe(2);
    expect(final.some((c) => before.has(c.Id))).toBe(false);

    await sampler.stop();
    // Never two leaders; exactly one whenever both answered, and exactly one once the survivor took over.
    for (const sample of sampler.samples) expect(sample.values.filter((v) => v === 1).length, JSON.stringify(sample)).toBeLessThanOrEqual(1);
    const bothUp = sampler.samples.filter((s) => s.at < killedAt && s.values.every((v) => v !== undefined));
    expect(bothUp.length).toBeGreaterThan(5);
    for (const sample of bothUp.slice(1)) expect(sample.values.filter((v) => v === 1).length, JSON.stringify(sample)).toBe(1);
    const afterTakeover = sampler.samples.filter((s) => s.at > killedAt + takeoverMs + 500);
    expect(afterTakeover.length).toBeGreaterThan(3);
    for (const sample of afterTakeover) expect(sample.values[follower === a ? 0 : 1]).toBe(1);

    expect(await follower.child.stop()).toBe(0);
  }, 240_000);

  it("a leader paused past its lease is deposed: the other takes over, and the old one exits without acting when it resumes", async () => {
    const { db } = await newSetup({ web: { replicas: 1, command: serving(0), healthCheck: CHECK } });
    const a = await startDaemon("a", dir!.dir, db);
    const first = await leaderOf([a]);
    const b = await startDaemon("b", dir!.dir, db);
    await eventually(async () => ((await leaderGauge(b)) === 0 ? true : undefined), 30_000, "b following");
    first.child.process.kill("SIGSTOP");
    await eventually(async () => ((await leaderGauge(b)) === 1 ? true : undefined), LEASE_MS + 5_000, "b leading");
    first.child.process.kill("SIGCONT");
    expect(await first.exited).toBe(1);
    expect(first.child.output()).toMatch(/leadership lost/);
    expect(await leaderGauge(b)).toBe(1);
    // A clean stop hands the lease over at once: a daemon started now leads without waiting out the lease.
    expect(await b.child.stop()).toBe(0);
    const c = await startDaemon("c", dir!.dir, db);
    const started = performance.now();
    await leaderOf([c]);
    expect(performance.now() - started).toBeLessThan(LEASE_MS);
  }, 120_000);
});
