import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { connectDocker } from "../../src/docker/connection.ts";
import type { DockerCall } from "../../src/docker/driver.ts";
import { LABEL } from "../../src/docker/labels.ts";
import { driverForTarget } from "../../src/docker/transport.ts";
import { startDaemon, type Daemon } from "../../src/engine/daemon.ts";
import { Manager } from "../../src/engine/manager.ts";
import type { ResourceStatus } from "../../src/engine/controller.ts";
import { controllers, targets } from "../../controllers/index.ts";
import { rolloutApi, type RolloutApi } from "../../controllers/service/requests.ts";
import { createLogger, Redactor } from "../../src/log/logger.ts";
import { loadManifests } from "../../src/manifests/load.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { Metrics } from "../../src/metrics/metrics.ts";
import { Recorder } from "../../src/record/recorder.ts";

/** Everything a test needs to drive Berth against the test engine and see what it did. */
export interface TestRuntime {
  dockerHost: string;
  docker: Docker;
  calls: DockerCall[];
  logs: string[];
  redactor: Redactor;
  /** Mutating calls made since `since` (an index into calls). */
  mutations(since?: number): DockerCall[];
  /** The runtime's own in-memory store: rollout history lasts across applies of one runtime. */
  store: Promise<Store>;
}

export function createTestRuntime(dockerHost: string): TestRuntime {
  const calls: DockerCall[] = [];
  return {
    dockerHost,
    docker: connectDocker(dockerHost),
    calls,
    logs: [],
    redactor: new Redactor(),
    mutations: (since = 0) => calls.slice(since).filter((c) => c.mutating),
    store: openStore("file::memory:"),
  };
}

async function managerOptions(rt: TestRuntime) {
  const log = createLogger({ level: "debug", write: (line) => rt.logs.push(line), redactor: rt.redactor });
  const env = { DOCKER_HOST: rt.dockerHost };
  return {
    log,
    redactor: rt.redactor,
    connect: (target: Parameters<typeof driverForTarget>[0]) => driverForTarget(target, { env, hooks: { onCall: (call: DockerCall) => rt.calls.push(call) } }),
    daemonEnv: env,
    controllers,
    targets,
    workers: 2,
    store: await rt.store,
    rolloutPollMs: 200,
    observer: new Recorder({ store: await rt.store, metrics: new Metrics(), redactor: rt.redactor, log }),
  };
}

/** What `berth apply [--wait]` does, in-process so its Docker calls can be counted. */
export async function applyOnce(dir: string, rt: TestRuntime, options: { wait?: boolean; timeoutMs?: number } = {}): Promise<{ ok: boolean; pending: ResourceStatus[]; status: ResourceStatus[] }> {
  const state = await loadManifests(dir);
  if (state.errors.length) throw new Error(state.errors.map((e) => e.message).join("\n"));
  const manager = new Manager({ ...(await managerOptions(rt)), watchEvents: false });
  manager.setDesired(state);
  await manager.start();
  try {
    const result = await manager.settle({ timeoutMs: options.timeoutMs ?? 60_000, ready: options.wait ?? true });
    return { ...result, status: manager.status() };
  } finally {
    await manager.stop();
  }
}

/** What `berth run` does, in-process. */
export async function runDaemon(dir: string, rt: TestRuntime, options: { resyncMs?: number } = {}): Promise<Daemon> {
  return startDaemon({ ...(await managerOptions(rt)), dir, debounceMs: 100, resyncMs: options.resyncMs ?? 60_000 });
}

/** The rollout API of an in-process daemon, as `berth rollout retry` and `berth rollback` reach it. */
export async function rolloutsOf(daemon: Daemon, rt: TestRuntime): Promise<RolloutApi> {
  const { manager } = daemon;
  return rolloutApi({ model: () => manager.desired, store: await rt.store, keyStatus: (key) => manager.keyStatus(key), enqueue: (key) => manager.enqueue(key) });
}

/** A project name no other test uses. */
export function uniqueProject(prefix = "t"): string {
  return `${prefix}${randomBytes(3).toString("hex")}`;
}

/** Berth's containers of a project, as Docker lists them. */
export async function projectContainers(docker: Docker, project: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL.project}=${project}`] } });
}

/** Removes everything a test project left on the engine, volumes included. */
export async function removeProject(docker: Docker, project: string): Promise<void> {
  const filters = { label: [`${LABEL.project}=${project}`] };
  for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove().catch(() => {});
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) await docker.getVolume(v.Name).remove().catch(() => {});
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
