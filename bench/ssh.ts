/**
 * What SSH costs, side by side on one engine: `berth apply` of N services to
 * a local target and to an ssh target (a real sshd on loopback forwarding the
 * same engine's socket), with `docker-compose up -d` of the same services on
 * the local socket as the peer; then single Docker API round trips, local vs
 * through the tunnel. Prints figures, asserts nothing.
 *
 *   npm run bench:ssh [-- --services 20 --pings 50]
 *
 * Engine: BERTH_BENCH_DOCKER_HOST if set, else a private dockerd (needs root, docker.io and openssh-server).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildBusyboxImage } from "../src/docker/busybox-image.ts";
import { DockerDriver } from "../src/docker/driver.ts";
import { driverForTarget } from "../src/docker/transport.ts";
import type { DeploymentTarget } from "../src/manifests/types.ts";
import { startTestEngine, type TestEngine } from "../test/support/engine.ts";
import { startTestSshd, type TestSshd } from "../test/support/sshd.ts";

const { values } = parseArgs({ options: { services: { type: "string", default: "20" }, pings: { type: "string", default: "50" } } });
const n = Number(values.services);
const pings = Number(values.pings);
const IMAGE = "berth-bench/busybox:1";
const COMMAND = ["sleep", "86400"];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function manifests(dir: string, project: string, target: string): void {
  const docs = [
    `apiVersion: berth.dev/v1alpha1\nkind: DeploymentTarget\nmetadata: {name: ${project}}\nspec:\n${target}`,
    `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${project}}`,
    `apiVersion: berth.dev/v1alpha1\nkind: Environment\nmetadata: {name: ${project}-env}\nspec: {project: ${project}, target: ${project}}`,
    ...Array.from({ length: n }, (_, i) => `apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata: {name: ${project}${i}}\nspec: {project: ${project}, image: "${IMAGE}", imagePullPolicy: Never, command: ${JSON.stringify(COMMAND)}, stopGracePeriod: 1s}`),
  ];
  writeFileSync(join(dir, "bench.yaml"), `${docs.join("\n---\n")}\n`);
}

function timedRun(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const result = spawnSync(command, args, { encoding: "utf8", env });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return performance.now() - started;
}

async function roundTrips(driver: DockerDriver): Promise<number> {
  const samples: number[] = [];
  await driver.ping();
  for (let i = 0; i < pings; i++) {
    const started = performance.now();
    await driver.ping();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

let engine: TestEngine | undefined;
let sshd: TestSshd | undefined;
const work = mkdtempSync(join(tmpdir(), "berth-bench-ssh-"));
const given = process.env.BERTH_BENCH_DOCKER_HOST;
if (given) process.env.BERTH_TEST_DOCKER_HOST = given;
try {
  engine = await startTestEngine();
  sshd = await startTestSshd();
  await buildBusyboxImage(new DockerDriver("bench", engine.docker), IMAGE, "bench\n");
  const socket = engine.host.replace(/^unix:\/\//, "");
  const env = { ...process.env, DOCKER_HOST: engine.host };
  const local = `  type: local\n  docker: {host: "${engine.host}"}`;
  const ssh = `  type: ssh\n  ssh: {host: 127.0.0.1, port: ${sshd.port}, user: ${sshd.user}, identityFile: ${sshd.identityFile}, hostKey: "${sshd.fingerprint}", remoteSocket: ${socket}}`;
  console.log(`${n} services, Docker ${(await engine.docker.version()).Version}; ssh target: sshd on 127.0.0.1 forwarding the same engine's socket`);
  console.log("tool                          cold apply   no-op re-apply");
  for (const [tool, project, target] of [["berth apply, local target", "bl", local], ["berth apply, ssh target", "bs", ssh]] as const) {
    const dir = mkdtempSync(join(work, `${project}-`));
    manifests(dir, project, target);
    const args = ["bin/berth.js", "apply", dir, "--log-level", "warn", "--db", `file:${join(dir, "berth.db")}`];
    const cold = timedRun(process.execPath, args, env);
    const noop = timedRun(process.execPath, args, env);
    console.log(`${tool.padEnd(30)}${`${Math.round(cold)} ms`.padStart(10)}   ${Math.round(noop)} ms`);
  }
  const compose = spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" });
  if (compose.status === 0) {
    const file = join(work, "compose.yml");
    writeFileSync(file, `version: "3.8"\nservices:\n${Array.from({ length: n }, (_, i) => `  c${i}:\n    image: ${IMAGE}\n    command: ${JSON.stringify(COMMAND)}\n`).join("")}`);
    const args = ["-f", file, "-p", "benchssh", "up", "-d"];
    const cold = timedRun("docker-compose", args, env);
    const noop = timedRun("docker-compose", args, env);
    console.log(`${"docker-compose up -d, local".padEnd(30)}${`${Math.round(cold)} ms`.padStart(10)}   ${Math.round(noop)} ms`);
    timedRun("docker-compose", ["-f", file, "-p", "benchssh", "down", "-t", "0"], env);
  } else console.log("docker-compose: not installed (apt-get install docker-compose)");

  const target = (spec: string): DeploymentTarget => ({ apiVersion: "berth.dev/v1alpha1", kind: "DeploymentTarget", metadata: { name: "bench" }, spec: JSON.parse(spec) }) as DeploymentTarget;
  const localDriver = driverForTarget(target(JSON.stringify({ type: "local", docker: { host: engine.host }, tls: false })));
  const sshDriver = driverForTarget(target(JSON.stringify({ type: "ssh", ssh: { host: "127.0.0.1", port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, hostKey: sshd.fingerprint, remoteSocket: socket }, tls: false })));
  console.log(`\nDocker API round trip (ping, median of ${pings}): local ${(await roundTrips(localDriver)).toFixed(2)} ms, through the ssh tunnel ${(await roundTrips(sshDriver)).toFixed(2)} ms`);
  sshDriver.close();
} finally {
  for (const c of (await engine?.docker.listContainers({ all: true, filters: { label: ["dev.berth.managed=true"] } })) ?? []) await engine!.docker.getContainer(c.Id).remove({ force: true });
  await sshd?.stop();
  await engine?.stop();
  rmSync(work, { recursive: true, force: true });
}
