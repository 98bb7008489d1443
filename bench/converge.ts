/**
 * Convergence speed, side by side on one engine: Berth `apply` of N services
 * vs `docker-compose up -d` of the same services vs a plain parallel
 * create+start through dockerode (the floor); then a no-op re-apply of each;
 * then how fast Berth's daemon heals a removed container. Prints figures,
 * asserts nothing.
 *
 *   npm run bench:converge [-- --sizes 20,100 --heals 5]
 *
 * Engine: BERTH_BENCH_DOCKER_HOST if set, else a private dockerd (needs root and docker.io).
 */
import { openStore } from "../src/store/index.ts";
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
import { startTestEngine, type TestEngine } from "../test/support/engine.ts";

const { values } = parseArgs({ options: { sizes: { type: "string", default: "20,100" }, heals: { type: "string", default: "5" } } });
const sizes = values.sizes.split(",").map(Number);
const heals = Number(values.heals);
const IMAGE = "berth-bench/busybox:1";
const COMMAND = ["sleep", "86400"];

const ms = (n: number) => `${Math.round(n)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function removeByLabel(docker: Docker, label: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  for (const n of await docker.listNetworks({ filters: { label: [label] } })) await docker.getNetwork(n.Id).remove();
}

async function floor(docker: Docker, n: number): Promise<number> {
  const network = `floor${n}`;
  await docker.createNetwork({ Name: network, Labels: { bench: network } });
  const t = await timed(() =>
    Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const c = await docker.createContainer({ name: `${network}-${i}`, Image: IMAGE, Cmd: COMMAND, Labels: { bench: network }, HostConfig: { NetworkMode: network } });
        await c.start();
      }),
    ),
  );
  await removeByLabel(docker, `bench=${network}`);
  return t;
}

function compose(host: string, n: number, dir: string): { cold: number; noop: number } | string {
  const version = spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" });
  if (version.status !== 0) return "not installed (apt-get install docker-compose)";
  const file = join(dir, `compose-${n}.yml`);
  const services = Array.from({ length: n }, (_, i) => `  s${i}:\n    image: ${IMAGE}\n    command: ${JSON.stringify(COMMAND)}\n`).join("");
  writeFileSync(file, `version: "3.8"\nservices:\n${services}`);
  const run = (...args: string[]) => {
    const result = spawnSync("docker-compose", ["-f", file, "-p", `compose${n}`, ...args], { env: { ...process.env, DOCKER_HOST: host }, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`docker-compose ${args.join(" ")} failed: ${result.stderr}`);
  };
  const started = performance.now();
  run("up", "-d");
  const cold = performance.now() - started;
  const again = performance.now();
  run("up", "-d");
  const noop = performance.now() - again;
  run("down", "-t", "0");
  return { cold, noop };
}

function writeManifests(dir: string, host: string, n: number): void {
  const docs = [
    `apiVersion: berth.dev/v1alpha1\nkind: DeploymentTarget\nmetadata: {name: bench}\nspec: {type: local, docker: {host: "${host}"}}`,
    `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: b${n}}`,
    `apiVersion: berth.dev/v1alpha1\nkind: Environment\nmetadata: {name: e${n}}\nspec: {project: b${n}, target: bench}`,
    ...Array.from({ length: n }, (_, i) => `apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata: {name: s${i}}\nspec: {project: b${n}, image: "${IMAGE}", imagePullPolicy: Never, command: ${JSON.stringify(COMMAND)}, stopGracePeriod: 1s}`),
  ];
  writeFileSync(join(dir, "bench.yaml"), `${docs.join("\n---\n")}\n`);
}

function berthApply(dir: string): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, ["bin/berth.js", "apply", dir, "--log-level", "warn"], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`berth apply failed:\n${result.stdout}\n${result.stderr}`);
  return performance.now() - started;
}

async function healLatency(docker: Docker, dir: string, host: string, n: number): Promise<number[]> {
  const redactor = new Redactor();
  const daemon = await startDaemon({ dir, controllers, targets, log: createLogger({ level: "warn", redactor }), redactor, connect: (t) => driverForTarget(t, { env: { DOCKER_HOST: host } }), resyncMs: 10 * 60_000, store: await openStore("file::memory:") });
  await daemon.manager.settle({ timeoutMs: 120_000, ready: true });
  const samples: number[] = [];
  for (let i = 0; i < heals; i++) {
    const label = `dev.berth.service=s${i % n}`;
    const [victim] = await docker.listContainers({ filters: { label: [label, `dev.berth.project=b${n}`] } });
    const started = performance.now();
    await docker.getContainer(victim!.Id).remove({ force: true });
    for (;;) {
      const [back] = await docker.listContainers({ filters: { label: [label, `dev.berth.project=b${n}`] } });
      if (back && back.Id !== victim!.Id && back.State === "running") break;
      await new Promise((r) => setTimeout(r, 10));
    }
    samples.push(performance.now() - started);
  }
  await daemon.stop();
  return samples;
}

let engine: TestEngine | undefined;
const host = process.env.BERTH_BENCH_DOCKER_HOST;
const work = mkdtempSync(join(tmpdir(), "berth-bench-converge-"));
try {
  engine = host ? { host, docker: connectDocker(host), stop: async () => {} } : await startTestEngine();
  const docker = engine.docker;
  await buildBusyboxImage(new DockerDriver("bench", docker), IMAGE, "bench\n");
  const version = await docker.version();
  console.log(`engine: Docker ${version.Version} (API ${version.ApiVersion}) at ${engine.host}; image ${IMAGE}; command ${COMMAND.join(" ")}`);
  console.log("");
  console.log("N     tool                        cold apply   x floor   no-op re-apply");
  for (const n of sizes) {
    const floorMs = await floor(docker, n);
    const peer = compose(engine.host, n, work);
    const dir = mkdtempSync(join(work, `berth-${n}-`));
    writeManifests(dir, engine.host, n);
    const berthCold = berthApply(dir);
    const berthNoop = berthApply(dir);
    const row = (tool: string, cold: number, noop?: number) =>
      console.log(`${String(n).padEnd(6)}${tool.padEnd(28)}${ms(cold).padStart(10)}   ${(cold / floorMs).toFixed(2).padStart(6)}x   ${noop === undefined ? "—" : ms(noop)}`);
    row("dockerode create+start", floorMs);
    if (typeof peer === "string") console.log(`${String(n).padEnd(6)}${"docker-compose up -d".padEnd(28)}${peer}`);
    else row("docker-compose up -d", peer.cold, peer.noop);
    row("berth apply", berthCold, berthNoop);
    const heal = await healLatency(docker, dir, engine.host, n);
    console.log(`${String(n).padEnd(6)}berth run: drift heal (rm -f a container -> replacement running): median ${ms(median(heal))}, max ${ms(Math.max(...heal))} over ${heal.length}`);
    await removeByLabel(docker, `dev.berth.project=b${n}`);
  }
} finally {
  await engine?.stop();
  rmSync(work, { recursive: true, force: true });
}
