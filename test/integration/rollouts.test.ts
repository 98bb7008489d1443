import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import type Docker from "dockerode";
import { demuxLogs } from "../../src/docker/driver.ts";
import type { Daemon } from "../../src/engine/daemon.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { createLogger } from "../../src/log/logger.ts";
import { manifestHealth } from "../../src/manifests/health.ts";
import { Metrics } from "../../src/metrics/metrics.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { createTestRuntime, eventually, projectContainers, removeProject, rolloutsOf, runDaemon, uniqueProject } from "../support/berth.ts";
import { createManifestDir, type ManifestDir } from "../support/manifest-dir.ts";
import { cliRunner } from "../support/cli.ts";
import { freePort, startChild, type Child } from "../support/processes.ts";
import { writeProject, writeService, type TestService } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const projects: string[] = [];
let dir: ManifestDir | undefined;
let daemon: Daemon | undefined;
const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await daemon?.stop();
  daemon = undefined;
  dir?.cleanup();
});
afterAll(async () => {
  for (const p of projects) await removeProject(rt.docker, p);
});

const CHECK = "{http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2}";
/** For revisions slow to answer: failures in the first 10 s do not count. */
const PATIENT_CHECK = "{http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2, startPeriod: 10s}";
/** Serves the test page after `delay` seconds; a revision differs from another by its env. */
const serving = (delay: number) => ["sh", "-c", `sleep ${delay}; exec httpd -f -p 8080 -h /www`];
/** Runs, but answers 404 to the health check: a bad revision. */
const broken = ["sh", "-c", "mkdir -p /tmp/empty; exec httpd -f -p 8080 -h /tmp/empty"];

function newProject(): string {
  const project = uniqueProject("r");
  projects.push(project);
  dir = createManifestDir();
  return project;
}

/** Running containers of a service: slot, revision and address on the environment's network. */
async function running(project: string, service: string) {
  const all = await projectContainers(rt.docker, project);
  const listed = all
    .filter((c) => c.Labels["dev.berth.service"] === service && c.State === "running")
    .map(async (c) => ({ id: c.Id, slot: c.Labels["dev.berth.replica"]!, revision: c.Labels["dev.berth.spec-hash"]!, ip: Object.values(c.NetworkSettings.Networks)[0]?.IPAddress ?? "", inService: await answersToName(c, service) }));
  return Promise.all(listed);
}

/**
 * Whether the service's name resolves to the container: on its network and, for one a rolling update
 * created outside the name (it joins once ready), with the name among its aliases (a list does not show them).
 */
async function answersToName(c: Docker.ContainerInfo, service: string): Promise<boolean> {
  const networks = Object.keys(c.NetworkSettings.Networks);
  if (networks.length === 0) return false;
  if (c.Labels["dev.berth.join-when-ready"] !== "true") return true;
  const inspected = await rt.docker.getContainer(c.Id).inspect().catch(() => undefined);
  return Object.values(inspected?.NetworkSettings.Networks ?? {}).some((n) => (n.Aliases ?? []).includes(service));
}

/** Running containers of a service that are in service: the name resolves to them (not to a retired one in its stop grace, nor to a new one not yet ready). */
async function inService(project: string, service: string) {
  return (await running(project, service)).filter((c) => c.inService);
}

async function answers(ip: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(800) });
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Waits until the newest deployments row of a service for `revision` (any, when undefined) reaches a final status. */
async function finishedRollout(store: Store, key: string, revision?: string, timeoutMs = 60_000) {
  return eventually(async () => {
    const latest = (await store.deployments.list({ service: key })).find((d) => !revision || d.revision === revision);
    return latest && !["pending", "in_progress"].includes(latest.status) ? latest : undefined;
  }, timeoutMs, `the rollout of ${key} to finish`);
}

async function revisionOf(project: string, service: string): Promise<string> {
  const [first] = await running(project, service);
  return first!.revision;
}

describe("rollouts", () => {
  it("a client calling a 2-replica backend by name through a rolling update is never sent to a replica that is not ready or has left, and old replicas that ignore SIGTERM do not pace it", async () => {
    const project = newProject();
    // The container's main process (sh) ignores SIGTERM and keeps httpd serving: only the 10 s grace's SIGKILL ends it.
    const stubborn = (version: string): TestService => ({
      replicas: 2,
      command: ["sh", "-c", "trap '' TERM; sleep 1; httpd -f -p 8080 -h /www & wait"],
      env: { V: version },
      healthCheck: CHECK,
      stopGracePeriod: "10s",
      update: "{strategy: rolling, maxSurge: 1, maxUnavailable: 0, healthTimeout: 30s}",
    });
    // Resolves the name through Docker's DNS on every request, as a frontend calling its backend does.
    const client: TestService = {
      // (busybox wget's own -T crashes in this image: timeout bounds each request instead.)
      command: ["sh", "-c", "while true; do if timeout 3 wget -q -O /dev/null http://api:8080/; then echo ok; else echo FAIL; fi; sleep 0.05; done"],
      dependsOn: [{ service: "api", condition: "service_healthy" }],
    };
    writeProject(dir!, project, rt.dockerHost, { api: stubborn("1"), client });
    daemon = await runDaemon(dir!.dir, rt);
    expect((await daemon.manager.settle({ timeoutMs: 60_000, ready: true })).pending).toEqual([]);
    const store = await rt.store;
    const key = `Service/${project}-dev/api`;
    const first = await finishedRollout(store, key);
    const [clientContainer] = await running(project, "client");
    const log = async () => demuxLogs(await rt.docker.getContainer(clientContainer!.id).logs({ stdout: true, stderr: true }));
    await eventually(async () => ((await log()).includes("ok") ? true : undefined), 20_000, "the client's first answer");

    writeService(dir!, project, "api", stubborn("2"));
    const second = await eventually(async () => {
      const rows = await store.deployments.list({ service: key });
      return rows[0] && rows[0].id !== first.id && rows[0].status === "success" ? rows[0] : undefined;
    }, 90_000, "the rolling update to succeed");
    // The rollout ended while the old replicas were still inside their grace period: it did not wait for them.
    const all = await projectContainers(rt.docker, project);
    const old = all.filter((c) => c.Labels["dev.berth.service"] === "api" && c.Labels["dev.berth.spec-hash"] === first.revision);
    expect(old.length).toBeGreaterThan(0);
    // Taken out of the service's name (off its network) before they were sent SIGTERM.
    for (const c of old) expect(Object.keys(c.NetworkSettings.Networks)).toEqual([]);
    const fresh = all.filter((c) => c.Labels["dev.berth.spec-hash"] === second.revision);
    expect(fresh).toHaveLength(2);
    // Each new replica answers to the name: it joined once ready.
    for (const c of fresh) expect((await rt.docker.getContainer(c.Id).inspect()).NetworkSettings.Networks[`${project}-${project}-dev`]?.Aliases).toContain("api");
    // The old ones still get their full grace, then go.
    await eventually(async () => ((await projectContainers(rt.docker, project)).some((c) => c.Labels["dev.berth.spec-hash"] === first.revision) ? undefined : true), 30_000, "the old replicas to stop and be removed");

    const lines = (await log()).split("\n").filter(Boolean);
    expect(lines.filter((l) => l === "ok").length).toBeGreaterThan(20);
    // Nothing is sent to a replica before it is ready, nor after it left the name. Docker takes a name and
    // an address away together, so the one request that may fail is one in flight to an old replica at the
    // instant it leaves (this client has one at a time): at most one per retired replica, and mostly none.
    // Sending new replicas requests before they listen, as a create with the alias did, fails many more.
    // ("Terminated" is busybox timeout's own notice when it ends a request that hung: that request's FAIL follows.)
    expect(lines.filter((l) => l !== "ok" && l !== "FAIL" && l !== "Terminated")).toEqual([]);
    expect(lines.filter((l) => l === "FAIL").length).toBeLessThanOrEqual(old.length);
  }, 180_000);

  it("rolls 3 replicas over to a healthy revision while at least replicas - maxUnavailable answer HTTP throughout", async () => {
    const project = newProject();
    const web: TestService = { replicas: 3, command: serving(0), healthCheck: PATIENT_CHECK, update: "{strategy: rolling, maxSurge: 1, maxUnavailable: 0, healthTimeout: 30s}", env: { V: "1" } };
    writeProject(dir!, project, rt.dockerHost, { web });
    daemon = await runDaemon(dir!.dir, rt);
    expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
    const store = await rt.store;
    const key = `Service/${project}-dev/web`;
    const first = await finishedRollout(store, key);
    expect(first.status).toBe("success");

    let sampling = true;
    const samples: { answering: number; inService: number }[] = [];
    const probeLoop = (async () => {
      while (sampling) {
        const now = await running(project, "web");
        const ok = await Promise.all(now.map((c) => answers(c.ip)));
        samples.push({ answering: ok.filter(Boolean).length, inService: now.filter((c) => c.inService).length });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    writeService(dir!, project, "web", { ...web, command: serving(1), env: { V: "2" } });
    const second = await eventually(async () => {
      const rows = await store.deployments.list({ service: key });
      return rows[0] && rows[0].id !== first.id && rows[0].status === "success" ? rows[0] : undefined;
    }, 90_000, "the second rollout to succeed");
    sampling = false;
    await probeLoop;

    expect(samples.length).toBeGreaterThan(20);
    expect(Math.min(...samples.map((s) => s.answering))).toBeGreaterThanOrEqual(3);
    // maxSurge 1: one extra container in service at a time, never more. An old one taken out of service
    // (off the network, answering nobody) may still be in its stop grace: it does not count, as in Kubernetes;
    // nor does a new one before it is ready (it joins the name then), created right before an old one leaves.
    // A new replica joins the name and its old one leaves it in the same step, joining first: the name never
    // points at fewer than replicas - maxUnavailable containers, nor at more than replicas + maxSurge.
    expect(Math.max(...samples.map((s) => s.inService))).toBeLessThanOrEqual(4);
    expect(Math.min(...samples.map((s) => s.inService))).toBeGreaterThanOrEqual(3);
    expect(second).toMatchObject({ previousRevision: first.revision, trigger: "manifest", healthCheckPassed: true });
    const after = await inService(project, "web");
    expect(after.map((c) => c.slot).sort()).toEqual(["0", "1", "2"]);
    expect(after.every((c) => c.revision === second.revision)).toBe(true);
    // The old revision's containers are gone once their stop grace is over: removed by their retirement.
    await eventually(async () => ((await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "web").length === 3 ? true : undefined), 20_000, "the old revision's containers to be removed");
    expect((await store.deployments.list({ service: key })).map((d) => d.status)).toEqual(["success", "success"]);
  });

  it("rolls a revision whose http check fails back to the previous one, says why, and does not retry it", async () => {
    const project = newProject();
    const web: TestService = { replicas: 2, command: serving(0), healthCheck: CHECK, update: "{healthTimeout: 30s}", env: { V: "good" } };
    writeProject(dir!, project, rt.dockerHost, { web });
    daemon = await runDaemon(dir!.dir, rt, { resyncMs: 500 });
    expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
    const store = await rt.store;
    const key = `Service/${project}-dev/web`;
    const good = await revisionOf(project, "web");

    writeService(dir!, project, "web", { ...web, command: broken, env: { V: "bad" } });
    const failed = await eventually(async () => {
      const [latest] = await store.deployments.list({ service: key });
      return latest && latest.revision !== good && latest.status === "rolled_back" ? latest : undefined;
    }, 60_000, "the bad revision to be rolled back");
    expect(failed.previousRevision).toBe(good);
    expect(failed.error).toContain("status 404");

    // The previous revision serves again, healthy, without anyone acting.
    const restored = await running(project, "web");
    expect(restored.map((c) => c.revision)).toEqual([good, good]);
    expect(await Promise.all(restored.map((c) => answers(c.ip)))).toEqual([true, true]);
    const events = await store.events.list({ kind: "Service", name: `${project}-dev/web`, limit: 100 });
    const warning = events.find((e) => e.reason === "RolledBack");
    expect(warning?.type).toBe("Warning");
    expect(warning?.message).toMatch(/health check http GET :8080\/ last said: status 404/);

    // No retry loop: with a resync every 500 ms, nothing is created for the bad revision again.
    const creates = () => rt.calls.filter((c) => c.operation === "container.create").length;
    const before = creates();
    await new Promise((r) => setTimeout(r, 15_000));
    expect(creates()).toBe(before);
    expect((await store.deployments.list({ service: key })).filter((d) => d.revision === failed.revision)).toHaveLength(1);
    const status = daemon.manager.status().find((s) => s.name === `${project}-dev/web`);
    expect(status).toMatchObject({ phase: "Running", ready: false, terminal: true });
    expect(status?.message).toContain("rolled back");
  });

  it("finishes or rolls back a rollout interrupted by kill -9, with no duplicate replica, nothing orphaned and a consistent history", async () => {
    const project = newProject();
    const dbDir = mkdtempSync(join(tmpdir(), "berth-kill-"));
    cleanups.push(() => rmSync(dbDir, { recursive: true, force: true }));
    const db = `file:${dbDir}/berth.db`;
    const web: TestService = { replicas: 2, command: serving(0), healthCheck: PATIENT_CHECK, update: "{maxSurge: 1, maxUnavailable: 0, healthTimeout: 60s}", env: { V: "1" } };
    writeProject(dir!, project, rt.dockerHost, { web });
    const start = async (): Promise<Child> => {
      const port = await freePort();
      const child = startChild(process.execPath, ["bin/berth.js", "run", dir!.dir, "--db", db, "--listen", `127.0.0.1:${port}`, "--resync", "5s"], { ...process.env, DOCKER_HOST: rt.dockerHost });
      cleanups.push(() => child.stop());
      return child;
    };
    const key = `Service/${project}-dev/web`;
    const withStore = async <T>(fn: (store: Store) => Promise<T>): Promise<T> => {
      const store = await openStore(db);
      try {
        return await fn(store);
      } finally {
        store.close();
      }
    };

    let child = await start();
    const first = await eventually(() => withStore(async (s) => (await s.deployments.list({ service: key })).find((d) => d.status === "success")), 60_000, "the first rollout");

    // The new revision takes 4 s to answer: the daemon dies while its first new container is being checked.
    writeService(dir!, project, "web", { ...web, command: serving(4), env: { V: "2" } });
    await eventually(async () => ((await running(project, "web")).some((c) => c.revision !== first.revision) ? true : undefined), 30_000, "a container of the new revision");
    child.process.kill("SIGKILL");
    await new Promise((resolve) => child.process.once("exit", resolve));
    const snapshots = await withStore((s) => s.snapshots.list("rollout"));
    expect(snapshots).toHaveLength(1);

    child = await start();
    const second = await eventually(() => withStore(async (s) => {
      const [latest] = await s.deployments.list({ service: key });
      return latest && latest.id !== first.id && !["pending", "in_progress"].includes(latest.status) ? latest : undefined;
    }), 90_000, "the interrupted rollout to finish");
    expect(second.status).toBe("success");
    expect(second.previousRevision).toBe(first.revision);

    // Old containers taken out of service go once their stop grace is over (a retirement the killed daemon
    // started was cut short: the new one finds them off the network and retires them again).
    const webContainers = async () => (await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "web");
    await eventually(async () => ((await webContainers()).length === 2 ? true : undefined), 30_000, "the old revision's containers to be removed");
    const containers = await webContainers();
    // One container per slot, all of the new revision, all running: no duplicate, nothing orphaned.
    expect(containers.map((c) => c.Labels["dev.berth.replica"]).sort()).toEqual(["0", "1"]);
    expect(containers.every((c) => c.State === "running" && c.Labels["dev.berth.spec-hash"] === second.revision)).toBe(true);
    const history = await withStore((s) => s.deployments.list({ service: key }));
    expect(history.map((d) => d.status)).toEqual(["success", "success"]);
    expect(await withStore((s) => s.snapshots.list("rollout"))).toEqual([]);
    expect(child.output()).toContain("rollout resumed");
  });

  it("rolls back to an older successful revision on `berth rollback`, through the API with its token, and records it", async () => {
    const project = newProject();
    const web: TestService = { replicas: 1, command: serving(0), healthCheck: CHECK, env: { V: "a" } };
    writeProject(dir!, project, rt.dockerHost, { web });
    daemon = await runDaemon(dir!.dir, rt);
    const store = await rt.store;
    const key = `Service/${project}-dev/web`;
    const token = "rollback-token-0123456789abcdef";
    const port = await freePort();
    const running = daemon;
    const served = { manager: running.manager, rollouts: await rolloutsOf(running, rt), manifests: () => manifestHealth(running.watcher.current) };
    const http = await startHttpServer({ listen: `127.0.0.1:${port}`, metrics: new Metrics(), store, daemon: () => served, log: createLogger({ level: "error", write: () => {} }), apiToken: token });
    cleanups.push(() => http.close());
    const tokenFile = join(dir!.dir, "..", `${project}.token`);
    writeFileSync(tokenFile, `${token}\n`);
    cleanups.push(() => rmSync(tokenFile, { force: true }));
    const berth = cliRunner({ BERTH_SERVER: `http://127.0.0.1:${port}` });

    const a = await finishedRollout(store, key);
    for (const [i, version] of ["b", "c"].entries()) {
      writeService(dir!, project, "web", { ...web, env: { V: version } });
      await eventually(async () => {
        const rows = await store.deployments.list({ service: key });
        return rows.length === i + 2 && rows[0]!.status === "success" ? true : undefined;
      }, 60_000, `revision ${version}`);
    }
    expect((await store.deployments.list({ service: key })).map((d) => d.status)).toEqual(["success", "success", "success"]);

    // A daemon started without a token keeps its API read-only.
    const readOnlyPort = await freePort();
    const readOnly = await startHttpServer({ listen: `127.0.0.1:${readOnlyPort}`, metrics: new Metrics(), store, daemon: () => served, log: createLogger({ level: "error", write: () => {} }) });
    cleanups.push(() => readOnly.close());
    const forbidden = await fetch(`http://127.0.0.1:${readOnlyPort}/api/v1/services/${project}-dev/web/rollback`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(forbidden.status).toBe(403);

    // Without the token the daemon refuses; the read-only status needs none.
    const refused = await berth("rollback", "Service/web", "--env", `${project}-dev`, "--to", a.revision.slice(0, 12));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("401");

    const rolled = await berth("rollback", "Service/web", "--env", `${project}-dev`, "--to", a.revision.slice(0, 12), "--token-file", tokenFile);
    expect(rolled.stderr).toBe("");
    expect(rolled.code).toBe(0);
    expect(rolled.stdout).toContain(`rolling back to revision ${a.revision.slice(0, 12)}`);

    const back = await eventually(async () => {
      const [latest] = await store.deployments.list({ service: key });
      return latest?.trigger === "rollback" && latest.status === "success" ? latest : undefined;
    }, 60_000, "the rollback to succeed");
    expect(back.revision).toBe(a.revision);
    expect((await inService(project, "web")).map((c) => c.revision)).toEqual([a.revision]);

    const status = await berth("rollout", "status", `Service/${project}-dev/web`);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`running ${a.revision.slice(0, 12)}`);
    expect(status.stdout).toContain(`held: rollback to ${a.revision.slice(0, 12)}`);
    // Held there: a resync does not roll the manifest's revision out again.
    await daemon.manager.resync();
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await inService(project, "web")).map((c) => c.revision)).toEqual([a.revision]);
  });

  it("recreate with a fixed host port: a failed revision gives the port back to the previous one; retry tries it once more", async () => {
    const project = newProject();
    const hostPort = await freePort();
    const web: TestService = { command: serving(0), healthCheck: CHECK, ports: `[{container: 8080, host: ${hostPort}}]`, update: "{healthTimeout: 30s}", env: { V: "good" } };
    writeProject(dir!, project, rt.dockerHost, { web });
    daemon = await runDaemon(dir!.dir, rt);
    expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
    const store = await rt.store;
    const key = `Service/${project}-dev/web`;
    const good = await revisionOf(project, "web");
    const page = async () => (await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(2_000) })).status;
    expect(await page()).toBe(200);

    writeService(dir!, project, "web", { ...web, command: broken, env: { V: "bad" } });
    const failed = await eventually(async () => {
      const [latest] = await store.deployments.list({ service: key });
      return latest && latest.revision !== good && latest.status === "rolled_back" ? latest : undefined;
    }, 60_000, "the bad revision to be rolled back");
    expect(await eventually(async () => ((await page()) === 200 ? true : undefined), 10_000, "the old revision on the host port")).toBe(true);
    expect((await running(project, "web")).map((c) => c.revision)).toEqual([good]);

    await (await rolloutsOf(daemon, rt)).retry(key);
    const retried = await eventually(async () => {
      const rows = await store.deployments.list({ service: key });
      return rows.length === 3 && rows[0]!.status === "rolled_back" ? rows[0] : undefined;
    }, 60_000, "the retry to be rolled back as well");
    expect(retried).toMatchObject({ revision: failed.revision, trigger: "retry", previousRevision: good });
    expect((await running(project, "web")).map((c) => c.revision)).toEqual([good]);
  });

  it("goes back to the running revision when the manifest is reverted mid-rollout", async () => {
    const project = newProject();
    const web: TestService = { replicas: 2, command: serving(0), healthCheck: PATIENT_CHECK, update: "{maxSurge: 1, maxUnavailable: 0, healthTimeout: 60s}", env: { V: "1" } };
    writeProject(dir!, project, rt.dockerHost, { web });
    daemon = await runDaemon(dir!.dir, rt);
    expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
    const store = await rt.store;
    const key = `Service/${project}-dev/web`;
    const first = await revisionOf(project, "web");

    writeService(dir!, project, "web", { ...web, command: serving(5), env: { V: "2" } });
    await eventually(async () => ((await running(project, "web")).some((c) => c.revision !== first) ? true : undefined), 30_000, "a container of the new revision");
    writeService(dir!, project, "web", web);

    const superseded = await eventually(async () => (await store.deployments.list({ service: key })).find((d) => d.revision !== first && d.status === "failed"), 30_000, "the new revision to be superseded");
    expect(superseded.error).toContain(`superseded by revision ${first.slice(0, 12)}`);
    await eventually(async () => {
      const containers = (await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "web");
      return containers.length === 2 && containers.every((c) => c.State === "running" && c.Labels["dev.berth.spec-hash"] === first) ? true : undefined;
    }, 30_000, "only the first revision to run, in both slots");
    expect((await store.deployments.list({ service: key }))[0]).toMatchObject({ revision: first, status: "success" });
  });

  it("keeps the newest five built images of a service and removes older ones no container uses", async () => {
    const project = newProject();
    writeProject(dir!, project, rt.dockerHost, {});
    const service = (page: string) => {
      dir!.write("images/web/Dockerfile", "FROM berth-test/busybox:1\nCOPY index.html /www/index.html\n");
      dir!.write("images/web/index.html", page);
      dir!.write("svc-web.yaml", `apiVersion: berth.dev/v1alpha1
kind: Service
metadata:
  name: web
spec:
  project: ${project}
  build: { context: ./images/web }
  command: ${JSON.stringify(serving(0))}
  healthCheck: ${CHECK}
  stopGracePeriod: 1s
`);
    };
    service("page 0\n");
    daemon = await runDaemon(dir!.dir, rt);
    const store = await rt.store;
    const key = `Service/${project}-dev/web`;
    const built = async () => (await rt.docker.listImages({ filters: { label: [`dev.berth.project=${project}`, "dev.berth.service=web"] } })).flatMap((i) => i.RepoTags ?? []);
    await eventually(async () => ((await store.deployments.list({ service: key }))[0]?.status === "success" ? true : undefined), 30_000, "the first build");
    for (let i = 1; i <= 6; i++) {
      service(`page ${i}\n`);
      // Build contexts are hashed when the model is built: a resync re-reads them.
      await daemon.manager.resync();
      await eventually(async () => {
        const rows = await store.deployments.list({ service: key });
        return rows.length === i + 1 && rows[0]!.status === "success" ? true : undefined;
      }, 30_000, `build ${i}`);
    }
    const tags = await built();
    expect(tags).toHaveLength(5);
    const [serving_] = await inService(project, "web");
    const image = (await rt.docker.getContainer(serving_!.id).inspect()).Config.Image;
    expect(tags).toContain(image);
    const page = await (await fetch(`http://${serving_!.ip}:8080/`)).text();
    expect(page).toBe("page 6\n");
  }, 240_000);
});
