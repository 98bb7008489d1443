/**
 * Updates side by side on one engine: a service of N replicas moves to a new
 * revision with Berth's health-gated rolling update and with
 * `docker-compose up -d` (which recreates every container), while a probe
 * loop counts how many replicas answer HTTP every 50 ms. Then a revision
 * that fails its check: how long Berth takes to put the old one back. Prints
 * figures, asserts nothing.
 *
 *   npm run bench:rollout [-- --replicas 3,10 --start-delay 1]
 *
 * Engine: BERTH_BENCH_DOCKER_HOST if set, else a private dockerd (needs root and docker.io).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type Docker from "dockerode";
import { buildBusyboxImage } from "../src/docker/busybox-image.ts";
import { connectDocker } from "../src/docker/connection.ts";
import { DockerDriver } from "../src/docker/driver.ts";
import { driverForTarget } from "../src/docker/transport.ts";
import { startDaemon } from "../src/engine/daemon.ts";
import { controllers, targets } from "../controllers/index.ts";
import { createLogger, Redactor } from "../src/log/logger.ts";
import { openStore, type Store } from "../src/store/index.ts";
import { startTestEngine, type TestEngine } from "../test/support/engine.ts";

const { values } = parseArgs({ options: { replicas: { type: "string", default: "3,10" }, "start-delay": { type: "string", default: "1" } } });
const sizes = values.replicas.split(",").map(Number);
const delay = Number(values["start-delay"]);
const IMAGE = "berth-bench/httpd:1";
const serve = (seconds: number) => ["sh", "-c", `sleep ${seconds}; exec httpd -f -p 8080 -h /www`];
const broken = ["sh", "-c", "mkdir -p /tmp/empty; exec httpd -f -p 8080 -h /tmp/empty"];

/** Samples how many of a label's running containers answer 200, every 50 ms, until stopped. */
function probeLoop(docker: Docker, label: string) {
  const samples: number[] = [];
  let zeroMs = 0;
  let on = true;
  const answers = async (ip: string) => {
    try {
      return (await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(500) })).status === 200;
    } catch {
      return false;
    }
  };
  const done = (async () => {
    let last = performance.now();
    while (on) {
      const containers = await docker.listContainers({ filters: { label: [label], status: ["running"] } });
      const ips = containers.map((c) => Object.values(c.NetworkSettings.Networks)[0]?.IPAddress ?? "");
      const answering = (await Promise.all(ips.map(answers))).filter(Boolean).length;
      const now = performance.now();
      // The time since the previous sample counts as down when this one found nobody answering.
      if (answering === 0) zeroMs += now - last;
      last = now;
      samples.push(answering);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      on = false;
      await done;
      return { min: Math.min(...samples), samples: samples.length, zero: Math.round(zeroMs) };
    },
  };
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

function berthManifests(dir: string, host: string, replicas: number, command: string[], version: string): void {
  const docs = [
    `apiVersion: berth.dev/v1alpha1\nkind: DeploymentTarget\nmetadata: {name: bench}\nspec: {type: local, docker: {host: "${host}"}}`,
    `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: roll${replicas}}`,
    `apiVersion: berth.dev/v1alpha1\nkind: Environment\nmetadata: {name: r${replicas}}\nspec: {project: roll${replicas}, target: bench}`,
    `apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata: {name: web}\nspec:\n  project: roll${replicas}\n  image: "${IMAGE}"\n  imagePullPolicy: Never\n  command: ${JSON.stringify(command)}\n  replicas: ${replicas}\n  stopGracePeriod: 1s\n  env: [{name: VERSION, value: "${version}"}]\n  healthCheck: {http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2, startPeriod: ${delay + 5}s}\n  update: {strategy: rolling, maxSurge: 1, maxUnavailable: 0, healthTimeout: 60s}`,
  ];
  writeFileSync(join(dir, "bench.yaml"), `${docs.join("\n---\n")}\n`);
}

async function berth(docker: Docker, host: string, replicas: number) {
  const dir = mkdtempSync(join(tmpdir(), "berth-bench-rollout-"));
  const redactor = new Redactor();
  const store: Store = await openStore("file::memory:");
  const key = `Service/r${replicas}/web`;
  const latest = async (n: number) => {
    const rows = await store.deployments.list({ service: key });
    return rows.length === n && !["pending", "in_progress"].includes(rows[0]!.status) ? rows[0]! : undefined;
  };
  berthManifests(dir, host, replicas, serve(delay), "1");
  const daemon = await startDaemon({ dir, controllers, targets, log: createLogger({ level: "error", redactor }), redactor, connect: (t) => driverForTarget(t, { env: { DOCKER_HOST: host } }), store, rolloutPollMs: 100, resyncMs: 10 * 60_000 });
  try {
    await until(() => latest(1));
    const probe = probeLoop(docker, `dev.berth.project=roll${replicas}`);
    let started = performance.now();
    berthManifests(dir, host, replicas, serve(delay), "2");
    const update = await until(() => latest(2));
    const updateMs = performance.now() - started;
    const healthy = await probe.stop();

    const during = probeLoop(docker, `dev.berth.project=roll${replicas}`);
    started = performance.now();
    berthManifests(dir, host, replicas, broken, "3");
    const failed = await until(() => latest(3));
    const rollbackMs = performance.now() - started;
    const bad = await during.stop();
    return { updateMs, update: update.status, healthy, failed: failed.status, rollbackMs, bad };
  } finally {
    await daemon.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
    for (const c of await docker.listContainers({ all: true, filters: { label: [`dev.berth.project=roll${replicas}`] } })) await docker.getContainer(c.Id).remove({ force: true });
    for (const n of await docker.listNetworks({ filters: { label: [`dev.berth.project=roll${replicas}`] } })) await docker.getNetwork(n.Id).remove();
  }
}

function compose(docker: Docker, host: string, replicas: number) {
  const version = spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" });
  if (version.status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "berth-bench-compose-"));
  const file = join(dir, "compose.yml");
  const write = (command: string[], v: string) =>
    writeFileSync(file, `version: "3.8"\nservices:\n  web:\n    image: ${IMAGE}\n    command: ${JSON.stringify(command)}\n    environment: {VERSION: "${v}"}\n    stop_grace_period: 1s\n    healthcheck: {test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"], interval: 1s, retries: 2}\n`);
  const run = (...args: string[]) => {
    const result = spawnSync("docker-compose", ["-f", file, "-p", `compose${replicas}`, ...args], { env: { ...process.env, DOCKER_HOST: host }, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`docker-compose ${args.join(" ")} failed: ${result.stderr}`);
  };
  return (async () => {
    try {
      write(serve(delay), "1");
      run("up", "-d", "--scale", `web=${replicas}`);
      const label = `com.docker.compose.project=compose${replicas}`;
      await until(async () => ((await docker.listContainers({ filters: { label: [label], health: ["healthy"] } })).length === replicas ? true : undefined));
      const probe = probeLoop(docker, label);
      write(serve(delay), "2");
      let started = performance.now();
      run("up", "-d", "--scale", `web=${replicas}`);
      await until(async () => ((await docker.listContainers({ filters: { label: [label], health: ["healthy"] } })).length === replicas ? true : undefined));
      const updateMs = performance.now() - started;
      const healthy = await probe.stop();
      const during = probeLoop(docker, label);
      write(broken, "3");
      started = performance.now();
      run("up", "-d", "--scale", `web=${replicas}`);
      const upMs = performance.now() - started;
      await new Promise((r) => setTimeout(r, 5_000));
      const bad = await during.stop();
      return { updateMs, healthy, upMs, bad };
    } finally {
      run("down", "-t", "0");
      rmSync(dir, { recursive: true, force: true });
    }
  })();
}

let engine: TestEngine | undefined;
const given = process.env.BERTH_BENCH_DOCKER_HOST;
if (given) process.env.BERTH_TEST_DOCKER_HOST = given;
try {
  engine = await startTestEngine();
  await buildBusyboxImage(new DockerDriver("bench", engine.docker), IMAGE, "bench\n");
  const docker = connectDocker(engine.host);
  const ms = (n: number) => `${(n / 1000).toFixed(1)} s`;
  console.log(`rollouts on Docker ${(await docker.version()).Version}; new containers answer ${delay} s after they start; probe every 50 ms`);
  for (const n of sizes) {
    const b = await berth(docker, engine.host, n);
    console.log(`\n${n} replicas`);
    console.log(`  berth rolling (maxSurge 1)   update ${ms(b.updateMs)} (${b.update}), fewest answering ${b.healthy.min}/${n}, time with none answering ${b.healthy.zero} ms`);
    console.log(`  berth, revision failing check: ${b.failed} after ${ms(b.rollbackMs)}, fewest answering ${b.bad.min}/${n}, time with none answering ${b.bad.zero} ms`);
    const c = await compose(docker, engine.host, n);
    if (!c) {
      console.log("  docker-compose: not installed (apt-get install docker-compose)");
      continue;
    }
    console.log(`  docker-compose up -d         update ${ms(c.updateMs)} (until all healthy), fewest answering ${c.healthy.min}/${n}, time with none answering ${c.healthy.zero} ms`);
    console.log(`  docker-compose, failing revision: up -d took ${ms(c.upMs)}, then 5 s later fewest answering ${c.bad.min}/${n}, time with none answering ${c.bad.zero} ms (no rollback)`);
  }
} finally {
  await engine?.stop();
}
