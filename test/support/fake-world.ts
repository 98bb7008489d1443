import type Docker from "dockerode";
import { DockerCallError, type Driver, type DriverHooks, type EngineEvent, type JobResult } from "../../src/docker/driver.ts";
import { Retirements } from "../../src/docker/retirements.ts";
import { LABEL } from "../../src/docker/labels.ts";
import { FakeEngine } from "./fake-world/engine.ts";
import { type Behaviour, type Clock, type ContainerRecord, engineError, type FakeClock, hasHealthcheck, type Health, type HealthLogEntry, matchesLabels, normalizeRef, settableClock } from "./fake-world/model.ts";
import { containerInfo, type ContainerView, imageInfo, networkInfo, view, volumeInfo } from "./fake-world/render.ts";

export type { Behaviour, ContainerState, FakeClock, Health, HealthLogEntry } from "./fake-world/model.ts";
export type { ContainerView } from "./fake-world/render.ts";

/**
 * A Driver over an in-memory Docker engine, for fast table tests of the
 * reconcile loop. It answers as the real engine does where Berth depends on
 * it (409 on a taken name, 500 on a taken host port, 304/404 tolerated as
 * DockerDriver tolerates them), records every call like DockerDriver's hooks,
 * and lets a test script container behaviour, drift and failures.
 */

export interface FakeWorldOptions {
  /** The DeploymentTarget name; default "local". */
  target?: string;
  /** Image references present at the start. */
  images?: string[];
  /** References a pull succeeds for; any other pull fails with 404 "pull access denied". */
  pullable?: string[];
  /** Milliseconds; default a settable clock exposed as world.clock. */
  clock?: Clock;
  /** Told of every call, as DockerDriver's hooks are (durationMs 0). */
  hooks?: DriverHooks;
}

/** One driver call, as world.calls keeps it. */
export interface FakeCall {
  operation: string;
  mutating: boolean;
  object?: string;
  reason?: string;
  outcome: "ok" | "error";
  error?: string;
}

type Meta = { mutating?: boolean; object?: string; reason?: string };

/** The engine's answers DockerDriver turns into success: already started/stopped (304), already gone (404). */
const tolerating =
  (...codes: number[]) =>
  (error: unknown): void => {
    if (error instanceof DockerCallError && codes.includes(error.statusCode ?? 0)) return;
    throw error;
  };

export function fakeWorld(options: FakeWorldOptions = {}): FakeWorld {
  return new FakeWorld(options);
}

export class FakeWorld implements Driver {
  readonly target: string;
  readonly clock: FakeClock;
  /** The in-memory daemon, for the rare test that needs a raw record. */
  readonly engine: FakeEngine;
  readonly calls: FakeCall[] = [];
  readonly dial = undefined;
  readonly healthLogReader = (id: string) => this.healthLog(id);
  private readonly hooks: DriverHooks;
  private readonly failures = new Map<string, { statusCode?: number; message?: string }[]>();

  constructor(options: FakeWorldOptions = {}) {
    this.target = options.target ?? "local";
    const clock = options.clock ?? settableClock();
    this.clock = "advance" in clock ? (clock as FakeClock) : { now: () => clock.now(), advance: () => { throw new Error("this world's clock was given by the test: advance it there"); } };
    this.hooks = options.hooks ?? {};
    this.engine = new FakeEngine(this.clock);
    for (const ref of options.images ?? []) this.engine.addImage(ref);
    for (const ref of options.pullable ?? []) this.engine.pullable.add(normalizeRef(ref));
  }

  // --- Driver: reads ---

  close(): void {}

  ping(): Promise<unknown> {
    return this.call("ping", {}, () => "OK");
  }

  version(): Promise<{ Version: string; ApiVersion: string }> {
    return this.call("version", {}, () => ({ Version: "20.10.0-fake", ApiVersion: "1.41" }));
  }

  listContainers(labels: string[]): Promise<Docker.ContainerInfo[]> {
    const networks = [...this.engine.networks.values()];
    return this.call("container.list", {}, () =>
      [...this.engine.containers.values()].filter((c) => matchesLabels(c.labels, labels)).map((c) => containerInfo(c, networks, this.engine.imageIdOf(c.image), this.clock.now())),
    );
  }

  listNetworks(labels: string[]): Promise<Docker.NetworkInspectInfo[]> {
    return this.call("network.list", {}, () => [...this.engine.networks.values()].filter((n) => matchesLabels(n.labels, labels)).map(networkInfo));
  }

  listVolumes(labels: string[]): Promise<Docker.VolumeInspectInfo[]> {
    return this.call("volume.list", {}, () => [...this.engine.volumes.values()].filter((v) => matchesLabels(v.labels, labels)).map(volumeInfo));
  }

  async volumesNamed(names: string[]): Promise<Docker.VolumeInspectInfo[]> {
    if (!names.length) return []; // DockerDriver makes no call either
    return this.call("volume.list", {}, () => [...this.engine.volumes.values()].filter((v) => names.includes(v.name)).map(volumeInfo));
  }

  listImages(labels: string[]): Promise<Docker.ImageInfo[]> {
    return this.call("image.list", {}, () => [...this.engine.images.values()].filter((i) => matchesLabels(i.labels, labels)).map((i) => imageInfo(i, this.engine.tagsOf(i.id))));
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.call("image.inspect", { object: ref }, () => this.engine.imageIdOf(ref) ?? this.fail(404, `No such image: ${ref}`));
      return true;
    } catch (error) {
      if (error instanceof DockerCallError && error.statusCode === 404) return false;
      throw error;
    }
  }

  async imageDigest(ref: string): Promise<string | undefined> {
    try {
      return await this.call("image.inspect", { object: ref }, () => this.engine.imageIdOf(ref) ?? this.fail(404, `No such image: ${ref}`));
    } catch (error) {
      if (error instanceof DockerCallError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Docker keeps a health log only for containers with a Healthcheck; a behaviour supplies its entries. */
  healthLog(id: string): Promise<HealthLogEntry[]> {
    return this.call("container.inspect", { object: id }, () => {
      const c = this.engine.container(id);
      return hasHealthcheck(c.options) ? [...(c.behaviour.healthLog ?? [])] : [];
    });
  }

  logs(id: string, tail = 20): Promise<string> {
    return this.call("container.logs", { object: id }, () => {
      const lines = this.engine.container(id).logs.split("\n").slice(0, -1);
      return lines.length ? `${lines.slice(-tail).join("\n")}\n` : "";
    });
  }

  /** Jobs (backups, restores, hooks) run programs: they are tested against a real engine only. */
  runJob(): Promise<JobResult> {
    return Promise.reject(new Error("the fake world runs no job containers; backups and restores are tested on a real engine"));
  }

  execJob(): Promise<JobResult> {
    return Promise.reject(new Error("the fake world runs no commands in containers; hooks are tested on a real engine"));
  }

  /** Delivers events of changes made after the call (subscribed synchronously), for containers matching the filters, until the signal aborts. */
  async events(labels: string[], onEvent: (event: EngineEvent) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const subscriber = { labels, onEvent };
    await this.call("events", {}, () => void this.engine.subscribers.add(subscriber));
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    this.engine.subscribers.delete(subscriber);
  }

  // --- Driver: changes ---

  createContainer(options: Docker.ContainerCreateOptions, reason: string): Promise<string> {
    return this.call("container.create", { mutating: true, object: options.name, reason }, () => this.engine.create(options));
  }

  async startContainer(id: string, reason: string): Promise<void> {
    await this.call("container.start", { mutating: true, object: id, reason }, () => this.engine.start(id)).catch(tolerating(304));
  }

  async stopContainer(id: string, timeoutSeconds: number | undefined, reason: string): Promise<void> {
    if (await this.retiring.settled(id)) return;
    await this.stopNow(id, timeoutSeconds, reason);
  }

  private async stopNow(id: string, _timeoutSeconds: number | undefined, reason: string): Promise<void> {
    await this.call("container.stop", { mutating: true, object: id, reason }, () => this.engine.stop(id)).catch(tolerating(304, 404));
  }

  private readonly retiring = new Retirements({ stopNow: (id, grace, reason) => this.stopNow(id, grace, reason), removeContainer: (id, reason) => this.removeContainer(id, reason) });

  retireContainer(id: string, options: { graceSeconds?: number; remove: boolean }, reason: string): void {
    this.retiring.retire(id, options, reason);
  }

  isRetiring(id: string): boolean {
    return this.retiring.has(id);
  }

  awaitRetirements(): Promise<void> {
    return this.retiring.all();
  }

  async containerAliases(id: string): Promise<Record<string, string[]>> {
    return this.call("container.inspect", { object: id }, () => {
      const c = this.engine.container(id);
      return Object.fromEntries([...c.networks].map(([network, endpoint]) => [network, [...endpoint.aliases]]));
    });
  }

  async removeContainer(id: string, reason: string): Promise<void> {
    await this.call("container.remove", { mutating: true, object: id, reason }, () => this.engine.remove(id)).catch(tolerating(404));
  }

  async createNetwork(options: Docker.NetworkCreateOptions, reason: string): Promise<void> {
    await this.call("network.create", { mutating: true, object: options.Name, reason }, () => this.engine.createNetwork(options));
  }

  async connectNetwork(network: string, containerId: string, aliases: string[], reason: string): Promise<void> {
    await this.call("network.connect", { mutating: true, object: `${network}/${containerId}`, reason }, () => this.engine.connect(network, containerId, aliases));
  }

  async disconnectNetwork(network: string, containerId: string, reason: string): Promise<void> {
    await this.call("network.disconnect", { mutating: true, object: `${network}/${containerId}`, reason }, () => this.engine.disconnect(network, containerId)).catch(tolerating(403, 404));
  }

  async removeNetwork(id: string, reason: string): Promise<void> {
    await this.call("network.remove", { mutating: true, object: id, reason }, () => this.engine.removeNetwork(id)).catch(tolerating(404));
  }

  async createVolume(options: Docker.VolumeCreateOptions, reason: string): Promise<void> {
    await this.call("volume.create", { mutating: true, object: options.Name, reason }, () => this.engine.createVolume(options));
  }

  async removeVolume(name: string, reason: string): Promise<void> {
    await this.call("volume.remove", { mutating: true, object: name, reason }, () => this.engine.removeVolume(name)).catch(tolerating(404));
  }

  async pullImage(ref: string, reason: string): Promise<void> {
    await this.call("image.pull", { mutating: true, object: ref, reason }, () => this.engine.pull(ref));
  }

  async buildImage(_context: { context: string; src: string[] }, options: Record<string, unknown>, reason: string): Promise<void> {
    await this.call("image.build", { mutating: true, object: String(options.t), reason }, () => this.engine.build(options));
  }

  async removeImage(ref: string, reason: string): Promise<void> {
    await this.call("image.remove", { mutating: true, object: ref, reason }, () => this.engine.removeImage(ref)).catch(tolerating(404));
  }

  // --- scripting the world ---

  /** What containers do when started: match by image reference or by predicate; returns an undo. */
  behave(match: string | ((c: ContainerView) => boolean), behaviour: Behaviour): () => void {
    const test = typeof match === "string" ? (c: ContainerRecord) => normalizeRef(c.image) === normalizeRef(match) : (c: ContainerRecord) => match(view(c));
    return this.engine.behave(test, behaviour);
  }

  /** The next `times` calls of `operation` (e.g. "container.start") fail with this engine error (default 500). */
  failNext(operation: string, error: { statusCode?: number; message?: string } = {}, times = 1): void {
    const queue = this.failures.get(operation) ?? [];
    for (let i = 0; i < times; i++) queue.push(error);
    this.failures.set(operation, queue);
  }

  /** The app's health while it runs (also for http/tcp checks, which Docker knows nothing of); undefined once it stops. */
  health(id: string): Health | undefined {
    return this.engine.findContainer(id)?.health;
  }

  /** Changes a running container's health, with the health_status event Docker emits for a Healthcheck. */
  setHealth(id: string, health: Health): void {
    const c = this.engine.container(id);
    if (c.state !== "running") throw new Error(`setHealth: container ${c.name} is ${c.state}, not running`);
    this.engine.setHealth(c, health);
  }

  /** Drift: a running container exits by itself (or crash-loops under a restart policy: `restarting`). */
  crash(id: string, exitCode = 1, options: { restarting?: boolean } = {}): void {
    const c = this.engine.container(id);
    if (c.state !== "running") throw new Error(`crash: container ${c.name} is ${c.state}, not running`);
    this.engine.exit(c, exitCode, options.restarting ? "restarting" : "exited");
  }

  /** Drift: someone removes a container behind Berth's back (docker rm -f). */
  delete(id: string): void {
    this.engine.remove(id);
  }

  /** An image that is present, e.g. one that appears between reconciles; returns its id. */
  addImage(ref: string, labels: Record<string, string> = {}): string {
    return this.engine.addImage(ref, labels);
  }

  allowPull(ref: string): void {
    this.engine.pullable.add(normalizeRef(ref));
  }

  // --- reading the world ---

  mutations(): FakeCall[] {
    return this.calls.filter((c) => c.mutating);
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  /** Every engine event so far, whether anyone subscribed or not. */
  get eventLog(): readonly EngineEvent[] {
    return this.engine.eventLog;
  }

  containers(filter: { service?: string; project?: string; environment?: string } = {}): ContainerView[] {
    const wanted = (c: ContainerRecord) =>
      (filter.service === undefined || c.labels[LABEL.service] === filter.service) &&
      (filter.project === undefined || c.labels[LABEL.project] === filter.project) &&
      (filter.environment === undefined || c.labels[LABEL.environment] === filter.environment);
    return [...this.engine.containers.values()].filter(wanted).map(view).sort((a, b) => a.name.localeCompare(b.name));
  }

  container(idOrName: string): ContainerView | undefined {
    const c = this.engine.findContainer(idOrName);
    return c && view(c);
  }

  /** Networks made on this engine (Docker's predefined bridge, host and none left out). */
  networks(): { id: string; name: string; labels: Record<string, string> }[] {
    return [...this.engine.networks.values()].filter((n) => !n.builtin).map((n) => ({ id: n.id, name: n.name, labels: { ...n.labels } }));
  }

  /** `files` is the volume's live data: write to it to seed, read it to check it survived. */
  volumes(): { name: string; labels: Record<string, string>; files: Record<string, string> }[] {
    return [...this.engine.volumes.values()].map((v) => ({ name: v.name, labels: { ...v.labels }, files: v.files }));
  }

  volume(name: string): { name: string; labels: Record<string, string>; files: Record<string, string> } | undefined {
    return this.volumes().find((v) => v.name === name);
  }

  images(): { id: string; refs: string[]; labels: Record<string, string> }[] {
    return [...this.engine.images.values()].map((i) => ({ id: i.id, refs: this.engine.tagsOf(i.id), labels: { ...i.labels } }));
  }

  // --- the call path, as DockerDriver's: hooks, record, wrap errors (no retries: the fake never hiccups by itself) ---

  private async call<T>(operation: string, meta: Meta, fn: () => T): Promise<T> {
    if (meta.mutating) this.hooks.beforeCall?.({ target: this.target, operation, object: meta.object });
    try {
      const injected = this.failures.get(operation)?.shift();
      if (injected) this.fail(injected.statusCode ?? 500, injected.message ?? `injected ${operation} failure`);
      const result = fn();
      this.record(operation, meta, "ok");
      return result;
    } catch (error) {
      const e = error as { statusCode?: number; message: string };
      this.record(operation, meta, "error", e.statusCode ? `${e.message} (HTTP ${e.statusCode})` : e.message);
      throw new DockerCallError(this.target, operation, error);
    }
  }

  private fail(statusCode: number, message: string): never {
    throw engineError(statusCode, message);
  }

  private record(operation: string, meta: Meta, outcome: "ok" | "error", error?: string): void {
    const call = { operation, mutating: meta.mutating ?? false, object: meta.object, reason: meta.reason, outcome, error };
    this.calls.push(call);
    this.hooks.onCall?.({ target: this.target, durationMs: 0, ...call });
  }
}
