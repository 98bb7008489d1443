import type Docker from "dockerode";
import type { Driver } from "./driver.ts";
import { LABEL } from "./labels.ts";

/** How long a list may be served without an event or a change of Berth's own saying it moved: bounds what a missed event costs. */
export const LIST_MAX_AGE_MS = 1_000;

interface Entry<T> {
  generation: number;
  at: number;
  value: Promise<T>;
}

/**
 * A driver that reads each kind of Berth's objects on its target once and
 * answers every scoped list from that one answer, as an informer's cache
 * does: a hundred services' passes in a row make one container list, not a
 * hundred. What was read is dropped the moment anything may have changed it:
 * a change Berth makes through this driver, an engine event (`invalidate`),
 * or after LIST_MAX_AGE_MS. Concurrent readers share one call in flight; a
 * reader that arrives after a change never gets an answer read before it.
 * Image presence is remembered the same way, so a pass over many services
 * of one image asks once.
 */
export class CachedDriver implements Driver {
  private generation = 0;
  private readonly lists = new Map<string, Entry<unknown>>();
  private readonly images = new Map<string, Entry<boolean>>();
  /** Aliases per container: they change only when its networks do, so they outlive other reads until a refresh. */
  private readonly aliases = new Map<string, Promise<Record<string, string[]>>>();

  constructor(
    private readonly inner: Driver,
    private readonly now: () => number = () => performance.now(),
    private readonly maxAgeMs = LIST_MAX_AGE_MS,
  ) {}

  get target(): string {
    return this.inner.target;
  }
  get healthLogReader() {
    return this.inner.healthLogReader;
  }
  get dial() {
    return this.inner.dial;
  }
  /** Swarm reads are never cached: a rollout is followed through them. */
  get swarm() {
    return this.inner.swarm;
  }

  /** Something on the engine moved (an event, a reconnect): the next read asks again. */
  invalidate(): void {
    this.generation++;
    this.lists.clear();
    this.images.clear();
  }

  /** Trust nothing read before (a resync, a new desired state): aliases are asked again too. */
  refresh(): void {
    this.invalidate();
    this.aliases.clear();
  }

  private cached<T>(map: Map<string, Entry<unknown>>, key: string, read: () => Promise<T>): Promise<T> {
    const entry = map.get(key) as Entry<T> | undefined;
    if (entry && entry.generation === this.generation && this.now() - entry.at < this.maxAgeMs) return entry.value;
    const fresh: Entry<T> = { generation: this.generation, at: this.now(), value: read() };
    map.set(key, fresh);
    // A failed read is not remembered: the next reader tries again.
    fresh.value.catch(() => map.get(key) === fresh && map.delete(key));
    return fresh.value;
  }

  /** Whether `labels` asks only for this target's own objects: then the whole target's list answers it. */
  private owned(labels: readonly string[]): boolean {
    return labels.includes(`${LABEL.managed}=true`) && labels.includes(`${LABEL.target}=${this.target}`);
  }

  private scoped<T extends { Labels?: Record<string, string> | null }>(kind: string, labels: string[], list: (labels: string[]) => Promise<T[]>): Promise<T[]> {
    if (!this.owned(labels)) return list(labels);
    const all = this.cached(this.lists, kind, () => list([`${LABEL.managed}=true`, `${LABEL.target}=${this.target}`]));
    return all.then((items) => items.filter((item) => matches(item.Labels ?? {}, labels)));
  }

  listContainers(labels: string[]): Promise<Docker.ContainerInfo[]> {
    return this.scoped("containers", labels, (l) => this.inner.listContainers(l));
  }
  listNetworks(labels: string[]): Promise<Docker.NetworkInspectInfo[]> {
    return this.scoped("networks", labels, (l) => this.inner.listNetworks(l));
  }
  listVolumes(labels: string[]): Promise<Docker.VolumeInspectInfo[]> {
    return this.scoped("volumes", labels, (l) => this.inner.listVolumes(l) as Promise<(Docker.VolumeInspectInfo & { Labels?: Record<string, string> | null })[]>);
  }
  imageExists(ref: string): Promise<boolean> {
    return this.cached(this.images as Map<string, Entry<unknown>>, ref, () => this.inner.imageExists(ref));
  }

  /** Runs a change and forgets what was read, before and after: readers during the call cannot keep a stale answer. */
  private async changing<T>(call: () => Promise<T>): Promise<T> {
    this.invalidate();
    try {
      return await call();
    } finally {
      this.invalidate();
    }
  }

  createContainer(options: Docker.ContainerCreateOptions, reason: string) {
    return this.changing(() => this.inner.createContainer(options, reason));
  }
  startContainer(id: string, reason: string) {
    return this.changing(() => this.inner.startContainer(id, reason));
  }
  stopContainer(id: string, timeoutSeconds: number | undefined, reason: string) {
    return this.changing(() => this.inner.stopContainer(id, timeoutSeconds, reason));
  }
  removeContainer(id: string, reason: string) {
    this.aliases.delete(id);
    return this.changing(() => this.inner.removeContainer(id, reason));
  }
  createNetwork(options: Docker.NetworkCreateOptions, reason: string) {
    return this.changing(() => this.inner.createNetwork(options, reason));
  }
  connectNetwork(network: string, containerId: string, aliases: string[], reason: string) {
    this.aliases.delete(containerId);
    return this.changing(() => this.inner.connectNetwork(network, containerId, aliases, reason)).finally(() => this.aliases.delete(containerId));
  }
  disconnectNetwork(network: string, containerId: string, reason: string) {
    this.aliases.delete(containerId);
    return this.changing(() => this.inner.disconnectNetwork(network, containerId, reason)).finally(() => this.aliases.delete(containerId));
  }
  removeNetwork(id: string, reason: string) {
    return this.changing(() => this.inner.removeNetwork(id, reason));
  }
  createVolume(options: Docker.VolumeCreateOptions, reason: string) {
    return this.changing(() => this.inner.createVolume(options, reason));
  }
  removeVolume(name: string, reason: string) {
    return this.changing(() => this.inner.removeVolume(name, reason));
  }
  pullImage(...args: Parameters<Driver["pullImage"]>) {
    return this.changing(() => this.inner.pullImage(...args));
  }
  buildImage(...args: Parameters<Driver["buildImage"]>) {
    return this.changing(() => this.inner.buildImage(...args));
  }
  removeImage(ref: string, reason: string) {
    return this.changing(() => this.inner.removeImage(ref, reason));
  }

  containerAliases(id: string): Promise<Record<string, string[]>> {
    const known = this.aliases.get(id);
    if (known) return known;
    const read = this.inner.containerAliases(id);
    this.aliases.set(id, read);
    read.catch(() => this.aliases.get(id) === read && this.aliases.delete(id));
    return read;
  }
  retireContainer(id: string, options: { graceSeconds?: number; remove: boolean }, reason: string): void {
    this.invalidate();
    this.inner.retireContainer(id, options, reason);
  }
  isRetiring(id: string) {
    return this.inner.isRetiring(id);
  }

  awaitRetirements() {
    return this.inner.awaitRetirements();
  }

  close(): void {
    this.inner.close();
  }
  ping() {
    return this.inner.ping();
  }
  version() {
    return this.inner.version();
  }
  volumesNamed(names: string[]) {
    return this.inner.volumesNamed(names);
  }
  listImages(labels: string[]) {
    return this.inner.listImages(labels);
  }
  healthLog(id: string) {
    return this.inner.healthLog(id);
  }
  imageDigest(ref: string, image?: string) {
    return this.inner.imageDigest(ref, image);
  }
  logs(id: string, tail?: number) {
    return this.inner.logs(id, tail);
  }
  // Jobs run in helper containers Berth does not manage, or in a running replica: nothing read here changes.
  runJob(...args: Parameters<Driver["runJob"]>) {
    return this.inner.runJob(...args);
  }
  execJob(...args: Parameters<Driver["execJob"]>) {
    return this.inner.execJob(...args);
  }
  events(...args: Parameters<Driver["events"]>) {
    return this.inner.events(...args);
  }
}

/** Docker's label filter, applied in process: `key` asks for the label, `key=value` for that value. */
export function matches(labels: Readonly<Record<string, string>>, filter: readonly string[]): boolean {
  return filter.every((f) => {
    const eq = f.indexOf("=");
    return eq < 0 ? f in labels : labels[f.slice(0, eq)] === f.slice(eq + 1);
  });
}
