import type Docker from "dockerode";
import type { EngineEvent } from "../../../src/docker/driver.ts";
import {
  type Behaviour,
  type Binding,
  bindingsOf,
  endpointsOf,
  volumesOf,
  type Clock,
  type ContainerRecord,
  type ContainerState,
  engineError,
  hasHealthcheck,
  type Health,
  hexId,
  type ImageRecord,
  matchesLabels,
  type NetworkRecord,
  normalizeRef,
  type VolumeRecord,
} from "./model.ts";

/**
 * An in-memory Docker daemon: synchronous operations that change records and
 * throw errors shaped like the engine's (status codes and messages included),
 * so the driver facade can wrap them exactly as DockerDriver wraps dockerode's.
 */
export class FakeEngine {
  readonly containers = new Map<string, ContainerRecord>();
  readonly networks = new Map<string, NetworkRecord>();
  readonly volumes = new Map<string, VolumeRecord>();
  readonly images = new Map<string, ImageRecord>();
  /** Normalised reference -> image id. */
  readonly tags = new Map<string, string>();
  readonly pullable = new Set<string>();
  readonly subscribers = new Set<{ labels: string[]; onEvent: (event: EngineEvent) => void }>();
  /** Every event emitted, subscribed or not. */
  readonly eventLog: EngineEvent[] = [];
  private readonly behaviours: { match: (c: ContainerRecord) => boolean; behaviour: Behaviour }[] = [];
  private readonly counters = { container: 0, network: 0, image: 0, volume: 0, name: 0, subnet: 0, port: 49152 };

  constructor(private readonly clock: Clock) {
    // Docker's predefined networks; only bridge-driver networks hand out addresses.
    this.addNetwork("bridge", {}, "bridge", true);
    this.addNetwork("host", {}, "host", true);
    this.addNetwork("none", {}, "null", true);
  }

  // --- lookups: Docker accepts an id, a unique id prefix, or a name ---

  findContainer(ref: string): ContainerRecord | undefined {
    const all = [...this.containers.values()];
    const name = ref.replace(/^\//, "");
    const prefixed = all.filter((c) => c.id.startsWith(ref));
    return this.containers.get(ref) ?? all.find((c) => c.name === name) ?? (prefixed.length === 1 ? prefixed[0] : undefined);
  }

  container(ref: string): ContainerRecord {
    const c = this.findContainer(ref);
    if (!c) throw engineError(404, `No such container: ${ref}`);
    return c;
  }

  findNetwork(ref: string): NetworkRecord | undefined {
    const all = [...this.networks.values()];
    const prefixed = all.filter((n) => n.id.startsWith(ref));
    return this.networks.get(ref) ?? all.find((n) => n.name === ref) ?? (prefixed.length === 1 ? prefixed[0] : undefined);
  }

  imageIdOf(ref: string): string | undefined {
    return this.tags.get(normalizeRef(ref)) ?? (this.images.has(ref) ? ref : undefined);
  }

  // --- containers ---

  create(options: Docker.ContainerCreateOptions): string {
    const ref = options.Image ?? "";
    const imageId = this.imageIdOf(ref);
    if (!imageId) throw engineError(404, `No such image: ${ref}`);
    const name = options.name ?? `fake_${++this.counters.name}`;
    const taken = [...this.containers.values()].find((c) => c.name === name);
    if (taken) throw engineError(409, `Conflict. The container name "/${name}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    const endpoints = endpointsOf(options);
    for (const network of endpoints.keys()) if (!this.findNetwork(network)) throw engineError(404, `network ${network} not found`);
    const volumes = volumesOf(options);
    // Docker creates a missing named volume on create, with only the labels the mount itself carries.
    for (const v of volumes) if (!this.volumes.has(v.name)) this.volumes.set(v.name, { name: v.name, labels: { ...v.labels }, files: {}, created: this.clock.now() });
    const bindings = bindingsOf(options);
    const id = hexId("container", ++this.counters.container);
    const c: ContainerRecord = {
      id,
      name,
      image: ref,
      imageId,
      labels: { ...this.images.get(imageId)?.labels, ...options.Labels },
      state: "created",
      exitCode: 0,
      created: Math.floor(this.clock.now() / 1000),
      networks: new Map([...endpoints].map(([n, aliases]) => [this.findNetwork(n)!.name, { aliases }])),
      bindings,
      published: new Map(),
      exposed: [...new Set([...Object.keys(options.ExposedPorts ?? {}), ...bindings.map((b) => `${b.containerPort}/${b.type}`)])],
      volumes: volumes.map(({ name, target, readOnly }) => ({ name, target, readOnly })),
      options,
      logs: "",
      behaviour: {},
    };
    this.containers.set(id, c);
    this.emit(c, "create");
    return id;
  }

  start(ref: string): void {
    const c = this.container(ref);
    if (c.state === "running") throw engineError(304, "container already started");
    for (const network of c.networks.keys()) if (!this.findNetwork(network)) throw engineError(404, `network ${network} not found`);
    c.published = this.publish(c);
    for (const [network, endpoint] of c.networks) endpoint.ip = this.address(this.findNetwork(network)!);
    c.state = "running";
    c.exitCode = 0;
    c.startedAt = this.clock.now();
    c.behaviour = this.behaviourFor(c);
    if (c.behaviour.logs) c.logs += c.behaviour.logs.endsWith("\n") ? c.behaviour.logs : `${c.behaviour.logs}\n`;
    this.emit(c, "start");
    if (c.behaviour.exitCode !== undefined) this.exit(c, c.behaviour.exitCode);
    else this.setHealth(c, c.behaviour.health ?? "healthy");
  }

  stop(ref: string): void {
    const c = this.container(ref);
    if (c.state !== "running" && c.state !== "restarting") throw engineError(304, "container already stopped");
    this.emit(c, "kill", { signal: "15" });
    this.exit(c, c.behaviour.stopExitCode ?? 0);
    this.emit(c, "stop");
  }

  /** Always forced, as DockerDriver removes: a running container is killed first. */
  remove(ref: string): void {
    const c = this.container(ref);
    if (c.state === "running" || c.state === "restarting") {
      this.emit(c, "kill", { signal: "9" });
      this.exit(c, 137);
    }
    this.containers.delete(c.id);
    this.emit(c, "destroy");
  }

  /** The container stops on its own; "restarting" is how a crash loop under a restart policy looks. */
  exit(c: ContainerRecord, exitCode: number, state: ContainerState = "exited"): void {
    c.state = state;
    c.exitCode = exitCode;
    c.finishedAt = this.clock.now();
    c.health = undefined;
    c.published = new Map();
    for (const endpoint of c.networks.values()) endpoint.ip = undefined;
    this.emit(c, "die", { exitCode: String(exitCode) });
  }

  /** Docker reports health, and emits health_status events, only for containers with a Healthcheck. */
  setHealth(c: ContainerRecord, health: Health): void {
    const before = c.health;
    c.health = health;
    if (hasHealthcheck(c.options) && health !== before && health !== "starting") this.emit(c, `health_status: ${health}`);
  }

  behave(match: (c: ContainerRecord) => boolean, behaviour: Behaviour): () => void {
    const entry = { match, behaviour };
    this.behaviours.push(entry);
    return () => {
      const at = this.behaviours.indexOf(entry);
      if (at >= 0) this.behaviours.splice(at, 1);
    };
  }

  private behaviourFor(c: ContainerRecord): Behaviour {
    return Object.assign({}, ...this.behaviours.filter((b) => b.match(c)).map((b) => b.behaviour)) as Behaviour;
  }

  /** Host ports for a start: fixed ones must be free among running containers, port 0 gets an ephemeral one. */
  private publish(c: ContainerRecord): Map<number, number> {
    const inUse: (Binding & { port: number })[] = [];
    for (const other of this.containers.values()) {
      if (other === c || other.state !== "running") continue;
      for (const [i, port] of other.published) inUse.push({ ...other.bindings[i]!, port });
    }
    const published = new Map<number, number>();
    c.bindings.forEach((b, i) => {
      if (b.hostPort === 0) {
        let port = ++this.counters.port;
        while (inUse.some((u) => u.port === port)) port = ++this.counters.port;
        published.set(i, port);
        return;
      }
      const wildcard = (ip: string) => !ip || ip === "0.0.0.0";
      if (inUse.some((u) => u.type === b.type && u.port === b.hostPort && (wildcard(u.hostIp) || wildcard(b.hostIp) || u.hostIp === b.hostIp))) {
        c.exitCode = 128; // what Docker records for a start that failed
        throw engineError(500, `driver failed programming external connectivity on endpoint ${c.name} (${hexId("endpoint", this.counters.container)}): Bind for ${b.hostIp || "0.0.0.0"}:${b.hostPort} failed: port is already allocated`);
      }
      published.set(i, b.hostPort);
    });
    return published;
  }

  private address(n: NetworkRecord): string | undefined {
    if (n.driver !== "bridge") return undefined;
    const host = n.nextHost;
    n.nextHost = host >= 254 ? 2 : host + 1;
    return `172.30.${n.subnet}.${host}`;
  }

  // --- networks ---

  addNetwork(name: string, labels: Record<string, string>, driver: string, builtin = false): NetworkRecord {
    const n: NetworkRecord = { id: hexId("network", ++this.counters.network), name, labels: { ...labels }, driver, subnet: builtin ? 0 : ++this.counters.subnet % 256, nextHost: 2, builtin, created: this.clock.now() };
    this.networks.set(n.id, n);
    return n;
  }

  createNetwork(options: Docker.NetworkCreateOptions): void {
    if ([...this.networks.values()].some((n) => n.name === options.Name)) throw engineError(409, `network with name ${options.Name} already exists`);
    this.addNetwork(options.Name, options.Labels ?? {}, options.Driver ?? "bridge");
  }

  connect(networkRef: string, containerRef: string, aliases: string[]): void {
    const n = this.findNetwork(networkRef);
    if (!n) throw engineError(404, `network ${networkRef} not found`);
    const c = this.container(containerRef);
    if (c.networks.has(n.name)) throw engineError(403, `endpoint with name ${c.name} already exists in network ${n.name}`);
    c.networks.set(n.name, { aliases, ip: c.state === "running" ? this.address(n) : undefined });
  }

  disconnect(networkRef: string, containerRef: string): void {
    const n = this.findNetwork(networkRef);
    if (!n) throw engineError(404, `network ${networkRef} not found`);
    const c = this.container(containerRef);
    if (!c.networks.has(n.name)) throw engineError(403, `container ${c.name} is not connected to network ${n.name}`);
    c.networks.delete(n.name);
  }

  removeNetwork(ref: string): void {
    const n = this.findNetwork(ref);
    if (!n) throw engineError(404, `network ${ref} not found`);
    if (n.builtin) throw engineError(403, `${n.name} is a pre-defined network and cannot be removed`);
    // Only running containers hold endpoints; stopped ones keep the name and fail to start later.
    if ([...this.containers.values()].some((c) => c.state === "running" && c.networks.has(n.name))) throw engineError(403, `error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    this.networks.delete(n.id);
  }

  // --- volumes ---

  /** An existing name is not an error, and the existing volume keeps its labels: real Docker. */
  createVolume(options: Docker.VolumeCreateOptions): void {
    const name = options.Name ?? hexId("volume", ++this.counters.volume);
    if (!this.volumes.has(name)) this.volumes.set(name, { name, labels: { ...options.Labels }, files: {}, created: this.clock.now() });
  }

  removeVolume(name: string): void {
    if (!this.volumes.has(name)) throw engineError(404, `get ${name}: no such volume`);
    const users = [...this.containers.values()].filter((c) => c.volumes.some((v) => v.name === name));
    if (users.length) throw engineError(409, `remove ${name}: volume is in use - [${users.map((c) => c.id).join(", ")}]`);
    this.volumes.delete(name);
  }

  // --- images ---

  /** Tags `ref` onto a new image; the image it pointed at before stays, dangling. */
  addImage(ref: string, labels: Record<string, string> = {}): string {
    const id = `sha256:${hexId("image", ++this.counters.image)}`;
    this.images.set(id, { id, labels: { ...labels }, created: this.clock.now() });
    this.tags.set(normalizeRef(ref), id);
    return id;
  }

  pull(ref: string): void {
    if (!this.pullable.has(normalizeRef(ref))) throw engineError(404, `pull access denied for ${ref.replace(/[:@].*$/, "")}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`);
    if (!this.tags.has(normalizeRef(ref))) this.addImage(ref);
  }

  build(options: Record<string, unknown>): void {
    const labels = typeof options.labels === "string" ? (JSON.parse(options.labels) as Record<string, string>) : ((options.labels as Record<string, string> | undefined) ?? {});
    this.addImage(String(options.t), labels);
  }

  tagsOf(id: string): string[] {
    return [...this.tags].filter(([, target]) => target === id).map(([ref]) => ref);
  }

  /** Untags a reference, and deletes the image once nothing names or uses it; by id, deletes outright. */
  removeImage(ref: string): void {
    const id = this.imageIdOf(ref);
    if (!id) throw engineError(404, `No such image: ${ref}`);
    const byTag = this.tags.has(normalizeRef(ref));
    const user = [...this.containers.values()].find((c) => c.imageId === id);
    const lastName = !byTag || this.tagsOf(id).length === 1;
    if (user && lastName) throw engineError(409, `conflict: unable to remove repository reference "${ref}" (must force) - container ${user.id.slice(0, 12)} is using its referenced image ${id.slice(7, 19)}`);
    if (byTag) this.tags.delete(normalizeRef(ref));
    else for (const tag of this.tagsOf(id)) this.tags.delete(tag);
    if (!this.tagsOf(id).length) this.images.delete(id);
  }

  // --- events ---

  /** Delivered in a microtask, after the call that caused them but before its caller resumes. */
  private emit(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    const event: EngineEvent = { type: "container", action, id: c.id, labels: { ...c.labels, image: c.image, name: c.name, ...extra }, time: Math.floor(this.clock.now() / 1000) };
    this.eventLog.push(event);
    for (const s of this.subscribers) {
      if (matchesLabels(event.labels, s.labels)) queueMicrotask(() => this.subscribers.has(s) && s.onEvent(event));
    }
  }
}
