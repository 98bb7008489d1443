import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { controllers, targets } from "../../controllers/index.ts";
import { rolloutApi } from "../../controllers/service/requests.ts";
import { driverForTarget } from "../../src/docker/transport.ts";
import { startDaemon } from "../../src/engine/daemon.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { createLogger, Redactor } from "../../src/log/logger.ts";
import { manifestHealth } from "../../src/manifests/health.ts";
import { Metrics } from "../../src/metrics/metrics.ts";
import { Recorder } from "../../src/record/recorder.ts";
import { openStore } from "../../src/store/index.ts";
import { createTestRuntime, eventually, projectContainers, removeProject, runDaemon, uniqueProject } from "../support/berth.ts";
import { buildBusyboxImage } from "../../src/docker/busybox-image.ts";
import { connectDocker } from "../../src/docker/connection.ts";
import { DockerDriver } from "../../src/docker/driver.ts";
import { TEST_IMAGE, TEST_PAGE } from "./global-setup.ts";
import { createManifestDir } from "../support/manifest-dir.ts";
import { writeProject, writeService } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const projects: string[] = [];
const mounts: string[] = [];

afterAll(async () => {
  for (const p of projects) await removeProject(rt.docker, p);
  for (const m of mounts) {
    execFileSync("umount", [m]);
    rmSync(m, { recursive: true, force: true });
  }
});

/** A daemon whose store lives in `dbDir`, with its HTTP server: what `berth run --db file:…` is. */
async function daemonOn(dbDir: string, manifests: string) {
  const logs: string[] = [];
  const redactor = new Redactor();
  const log = createLogger({ level: "info", write: (line) => logs.push(line), redactor });
  const store = await openStore(`file:${dbDir}/berth.db`);
  const metrics = new Metrics({ processMetrics: false });
  const env = { DOCKER_HOST: rt.dockerHost };
  const daemon = await startDaemon({
    dir: manifests,
    log,
    redactor,
    store,
    metrics,
    controllers,
    targets,
    daemonEnv: env,
    connect: (target) => driverForTarget(target, { env }),
    observer: new Recorder({ store, metrics, redactor, log }),
    resyncMs: 60_000,
    debounceMs: 100,
  });
  const rollouts = rolloutApi({ model: () => daemon.manager.desired, store, keyStatus: (k) => daemon.manager.keyStatus(k), enqueue: (k) => daemon.manager.enqueue(k) });
  const http = await startHttpServer({ listen: "127.0.0.1:0", metrics, store, log, daemon: () => ({ manager: daemon.manager, rollouts, manifests: () => manifestHealth(daemon.watcher.current) }) });
  const readyz = async () => (await (await fetch(`http://${http.address}/readyz`)).json()) as { status: string; checks: { name: string; ok: boolean; detail: string }[] };
  const storeCheck = async () => (await readyz()).checks.find((c) => c.name === "store")!;
  return {
    daemon,
    logs,
    storeCheck,
    metricsText: async () => (await fetch(`http://${http.address}/metrics`)).text(),
    async stop() {
      await http.close();
      await daemon.stop();
      store.close();
    },
  };
}

/** Docker converged the `worker` service a test added, whatever the store does. */
const workerRuns = (project: string) =>
  eventually(async () => ((await projectContainers(rt.docker, project)).some((c) => c.Labels["dev.berth.service"] === "worker" && c.State === "running") ? true : undefined), 30_000, "the new service to run");

/** The store check once it fails. */
const failingCheck = (storeCheck: () => Promise<{ ok: boolean; detail: string }>) =>
  eventually(async () => {
    const check = await storeCheck();
    return check.ok ? undefined : check;
  }, 20_000, "the store check to fail");

describe("faults of the store under a running daemon", () => {
  it("a full disk fails /readyz's store check with a short reason, counts what was lost, and reconciling Docker goes on; freeing space recovers", async () => {
    const mount = mkdtempSync(join(tmpdir(), "berth-tmpfs-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mount]);
    mounts.push(mount);
    const project = uniqueProject("fd");
    projects.push(project);
    const dir = createManifestDir();
    writeProject(dir, project, rt.dockerHost, { web: {} });
    const run = await daemonOn(mount, dir.dir);
    try {
      expect((await run.daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
      expect((await run.storeCheck()).ok).toBe(true);

      // Fill the disk, then change things so the recorder has rows to write.
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${mount}/filler`, "bs=64k"], { stdio: "ignore" });
      } catch {
        // dd ends with "no space left": that is the point
      }
      writeService(dir, project, "worker", { command: ["sleep", "3600"] });
      // Docker converges anyway.
      await workerRuns(project);
      const failing = await failingCheck(run.storeCheck);
      expect(failing.detail).toMatch(/disk is full/);
      expect(failing.detail).not.toMatch(/insert into|update "/i);
      expect(await run.metricsText()).toMatch(/berth_store_errors_total\{[^}]*reason="disk_full"[^}]*\} [1-9]/);
      // One line per distinct fault, not one per write.
      expect(run.logs.filter((l) => l.includes("store write failed")).length).toBeLessThanOrEqual(3);

      rmSync(`${mount}/filler`);
      writeService(dir, project, "worker", { command: ["sleep", "3601"] });
      await eventually(async () => ((await run.storeCheck()).ok ? true : undefined), 30_000, "the store check to recover");
    } finally {
      await run.stop();
      dir.cleanup();
    }
  }, 120_000);

  it("a database file deleted under the daemon is named by /readyz, and the daemon keeps converging", async () => {
    const dbDir = mkdtempSync(join(tmpdir(), "berth-db-"));
    mkdirSync(dbDir, { recursive: true });
    const project = uniqueProject("dd");
    projects.push(project);
    const dir = createManifestDir();
    writeProject(dir, project, rt.dockerHost, { web: {} });
    const run = await daemonOn(dbDir, dir.dir);
    try {
      expect((await run.daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
      rmSync(join(dbDir, "berth.db"));
      writeService(dir, project, "worker", { command: ["sleep", "3600"] });
      await workerRuns(project);
      const failing = await failingCheck(run.storeCheck);
      expect(failing.detail).toMatch(/database file .*(was deleted while berth had it open|was replaced)/);
      await eventually(async () => (run.daemon.manager.status().find((s) => s.name === `${project}-dev/worker`)?.phase === "Running" ? true : undefined), 15_000, "the new service to be Running");
    } finally {
      await run.stop();
      dir.cleanup();
      rmSync(dbDir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** A second private engine that can be stopped and started again on the same data root, as an operator restarts dockerd. */
function restartableEngine() {
  const dir = mkdtempSync("/tmp/berth-engine-b-");
  const host = `unix://${dir}/docker.sock`;
  let child: ChildProcess | undefined;
  const docker = connectDocker(host);
  return {
    host,
    docker,
    async start() {
      const log = openSync(`${dir}/dockerd.log`, "a");
      child = spawn("dockerd", [`--host=${host}`, `--data-root=${dir}/data`, `--exec-root=${dir}/exec`, `--pidfile=${dir}/dockerd.pid`, "--bridge=none", "--iptables=false", "--ip-masq=false", "--default-address-pool=base=172.29.0.0/16,size=24", "--shutdown-timeout=2", "--log-level=warn"], { stdio: ["ignore", log, log] });
      await eventually(async () => ((await docker.ping().catch(() => undefined)) ? true : undefined), 60_000, "the second engine to answer");
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child!.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 3 }),
  };
}

describe("faults of the engine under a running daemon", () => {
  it("dockerd restarted: the target goes Unreachable and comes back, the Service runs again, no container is duplicated, the daemon stays up", async () => {
    const engine = restartableEngine();
    await engine.start();
    const project = uniqueProject("dr");
    const dir = createManifestDir();
    let daemon: Awaited<ReturnType<typeof runDaemon>> | undefined;
    try {
      await buildBusyboxImage(new DockerDriver("b", engine.docker), TEST_IMAGE, TEST_PAGE);
      writeProject(dir, project, engine.host, { web: { replicas: 2 } });
      daemon = await runDaemon(dir.dir, { ...createTestRuntime(engine.host) });
      expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
      const target = () => daemon!.manager.targetStatus().find((t) => t.name === `${project}-engine`)?.phase;

      await engine.stop();
      await eventually(async () => (target() === "Unreachable" ? true : undefined), 30_000, "the target to be unreachable");
      await engine.start();
      await eventually(async () => (target() === "Active" ? true : undefined), 60_000, "the target to be active again");
      await eventually(async () => {
        const web = (await projectContainers(engine.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "web");
        return web.length === 2 && web.every((c) => c.State === "running") ? true : undefined;
      }, 60_000, "both replicas running again, and only those");
      expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
      const slots = (await projectContainers(engine.docker, project)).map((c) => c.Labels["dev.berth.replica"]).sort();
      expect(slots).toEqual(["0", "1"]);
    } finally {
      await daemon?.stop();
      await removeProject(engine.docker, project).catch(() => {});
      await engine.stop();
      engine.cleanup();
      dir.cleanup();
    }
  }, 240_000);
});

