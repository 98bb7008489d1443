// Longer than our usual file: the Driver interface and its one Docker implementation stay together, so
// every engine call visibly goes through the same timed, audited `call` path (and nowhere else).
import { PassThrough, type Readable } from "node:stream";
import { pack as packContext } from "tar-fs";
import type Docker from "dockerode";
import type { Dialer } from "./dial.ts";
import { digestOf, EngineStreamError, type RegistryAuth } from "./registry-auth.ts";
import { Retirements } from "./retirements.ts";
import { SwarmApi } from "./swarm.ts";

/** One call made to an engine, as reported to metrics and the audit log. */
export interface DockerCall {
  target: string;
  operation: string;
  mutating: boolean;
  /** Name or id of the object acted on. */
  object?: string;
  /** Why the call was made: the plan action and resource, for the audit log. */
  reason?: string;
  durationMs: number;
  outcome: "ok" | "error";
  error?: string;
}

export interface DriverHooks {
  /** Before a mutating call is sent: lets listeners expect the engine events it will cause. */
  beforeCall?: (call: { target: string; operation: string; object?: string }) => void;
  onCall?: (call: DockerCall) => void;
}

/** A Docker engine event about one of Berth's objects. */
export interface EngineEvent {
  type: string;
  action: string;
  id: string;
  labels: Record<string, string>;
  time: number;
}

export class DockerCallError extends Error {
  readonly statusCode?: number;
  constructor(readonly target: string, readonly operation: string, cause: unknown) {
    const detail = describeDockerError(cause);
    super(`docker ${operation} on DeploymentTarget/${target} failed: ${detail}`, { cause });
    this.name = "DockerCallError";
    this.statusCode = (cause as { statusCode?: number }).statusCode;
  }
}

function describeDockerError(error: unknown): string {
  const e = error as { json?: { message?: string }; reason?: string; message?: string; statusCode?: number; code?: string };
  // A streamed call (pull, build) carries the engine's answer only in the message: "(HTTP code 500) server error - <answer> ".
  const streamed = /^\(HTTP code \d+\) [^-]*- ([\s\S]*\S)\s*$/.exec(e.message ?? "")?.[1];
  const message = e.json?.message ?? streamed ?? e.reason ?? e.message ?? String(error);
  return e.statusCode ? `${message} (HTTP ${e.statusCode})` : e.code && !message.includes(e.code) ? `${message} (${e.code})` : message;
}

const TRANSIENT_CODES = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNREFUSED", "ENOENT", "EAI_AGAIN"]);

/** Connection hiccups and engine overload, worth another try for calls that change nothing. */
export function isTransient(error: unknown): boolean {
  const e = error as { code?: string; statusCode?: number; message?: string };
  if (e.code && TRANSIENT_CODES.has(e.code)) return true;
  if (e.statusCode && [502, 503, 504].includes(e.statusCode)) return true;
  return /socket hang up/i.test(e.message ?? "");
}

export interface DriverTimeouts {
  /** Any call but the ones below. */
  callMs: number;
  /** Stops and removals, which wait out a container's grace period. */
  stopMs: number;
  /** Pulls and builds. */
  imageMs: number;
  /** Jobs run to completion: a backup or restore helper, a backup hook. */
  jobMs: number;
}

export const DEFAULT_TIMEOUTS: DriverTimeouts = { callMs: 60_000, stopMs: 5 * 60_000, imageMs: 30 * 60_000, jobMs: 6 * 3_600_000 };

/** What a command run to its end left: its exit code and the tail of its output (both streams). */
export interface JobResult {
  exitCode: number;
  output: string;
}

/** A call that does not answer in time frees its reconcile; level-triggered, the next pass sees what it did. */
export class DockerTimeoutError extends Error {
  readonly code = "ETIMEDOUT";
  constructor(operation: string, ms: number) {
    super(`no answer to ${operation} within ${ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`}`);
    this.name = "DockerTimeoutError";
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DockerTimeoutError(operation, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface DriverOptions {
  timeouts?: Partial<DriverTimeouts>;
  hooks?: DriverHooks;
  /** Attempts for read-only calls on transient errors. */
  readAttempts?: number;
  retryDelayMs?: number;
  /** Opens a TCP stream to a container's address (through the target's SSH connection for remote targets). */
  dial?: Dialer;
  /** Releases the connection (an SSH target's tunnel). */
  close?: () => void;
}

/**
 * What Berth asks of one target's engine. `DockerDriver` is the real one;
 * tests of the whole loop use an in-memory world with the same shape.
 */
export interface Driver {
  readonly target: string;
  /** Reads a container's exec health log. */
  readonly healthLogReader: (id: string) => Promise<{ start: string; exitCode: number; output: string }[]>;
  /** How health probes reach containers on this target; undefined: directly. */
  readonly dial?: Dialer;
  close(): void;
  ping(): Promise<unknown>;
  version(): Promise<{ Version: string; ApiVersion: string }>;
  listContainers(labels: string[]): Promise<Docker.ContainerInfo[]>;
  listNetworks(labels: string[]): Promise<Docker.NetworkInspectInfo[]>;
  listVolumes(labels: string[]): Promise<Docker.VolumeInspectInfo[]>;
  /** Volumes with exactly these names, whoever made them (one call). */
  volumesNamed(names: string[]): Promise<Docker.VolumeInspectInfo[]>;
  listImages(labels: string[]): Promise<Docker.ImageInfo[]>;
  removeImage(ref: string, reason: string): Promise<void>;
  healthLog(id: string): Promise<{ start: string; exitCode: number; output: string }[]>;
  imageExists(ref: string): Promise<boolean>;
  createContainer(options: Docker.ContainerCreateOptions, reason: string): Promise<string>;
  startContainer(id: string, reason: string): Promise<void>;
  stopContainer(id: string, timeoutSeconds: number | undefined, reason: string): Promise<void>;
  removeContainer(id: string, reason: string): Promise<void>;
  createNetwork(options: Docker.NetworkCreateOptions, reason: string): Promise<void>;
  connectNetwork(network: string, containerId: string, aliases: string[], reason: string): Promise<void>;
  /** The aliases a container answers to on each network it is attached to (one inspect). */
  containerAliases(id: string): Promise<Record<string, string[]>>;
  /**
   * Stops a container without making the caller wait for its grace period, and
   * removes it afterwards when asked. Once per container: asking again while it
   * stops changes nothing but `remove` (which only ever turns on).
   */
  retireContainer(id: string, options: { graceSeconds?: number; remove: boolean }, reason: string): void;
  /** Whether a retired container is still being stopped in the background (it is leaving: nothing else to do with it). */
  isRetiring(id: string): boolean;
  /** Waits until every retired container has stopped (and been removed when asked). */
  awaitRetirements(): Promise<void>;
  /** Takes a container off a network: its name and aliases stop resolving there at once (a container already off it is no error). */
  disconnectNetwork(network: string, containerId: string, reason: string): Promise<void>;
  removeNetwork(id: string, reason: string): Promise<void>;
  createVolume(options: Docker.VolumeCreateOptions, reason: string): Promise<void>;
  removeVolume(name: string, reason: string): Promise<void>;
  /** Pulls with the registry credentials given, if any (they go to the engine only, never to a hook or the audit). */
  pullImage(ref: string, reason: string, auth?: RegistryAuth): Promise<void>;
  /**
   * What image `image` (an ID, e.g. a container's ImageID; default: what `ref` names now) is recorded as for `ref`:
   * its repo digest of `ref`'s repository (`repo@sha256:…`), else its image ID (`sha256:…`, see digestOf); undefined when absent.
   */
  imageDigest(ref: string, image?: string): Promise<string | undefined>;
  buildImage(context: { context: string; src: string[] }, options: Record<string, unknown>, reason: string): Promise<void>;
  logs(id: string, tail?: number): Promise<string>;
  /** Creates, starts and waits for a short-lived container, then removes it (also when waiting fails). */
  runJob(options: Docker.ContainerCreateOptions, reason: string): Promise<JobResult>;
  /** Runs a command in a running container and waits for it to end. */
  execJob(id: string, cmd: string[], reason: string): Promise<JobResult>;
  events(labels: string[], onEvent: (event: EngineEvent) => void, signal: AbortSignal): Promise<void>;
  /** Swarm mode calls, for a target that is a Swarm manager. */
  readonly swarm?: SwarmApi;
}

/**
 * Every call Berth makes to one target's engine. Calls are timed and reported
 * through hooks; read-only calls are retried on transient errors, mutating
 * calls never (the reconciler's backoff decides about those).
 */
export class DockerDriver implements Driver {
  private readonly hooks: DriverHooks;
  private readonly readAttempts: number;
  private readonly retryDelayMs: number;
  private readonly timeouts: DriverTimeouts;

  constructor(readonly target: string, readonly docker: Docker, options: DriverOptions = {}) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.hooks = options.hooks ?? {};
    this.readAttempts = options.readAttempts ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.dial = options.dial;
    this.closeConnection = options.close;
    this.swarm = new SwarmApi(docker, (operation, fn, meta) => this.call(operation, fn, meta));
  }

  /** Swarm mode calls go through the same timing, hooks and retries as every other call. */
  readonly swarm: SwarmApi;

  /** Reads a container's exec health log; one function per driver, so the prober can tell drivers apart. */
  readonly healthLogReader = (id: string) => this.healthLog(id);

  /** How health probes reach containers on this target; undefined: directly. */
  readonly dial?: Dialer;
  private readonly closeConnection?: () => void;

  /** Closes the target's connection, if it holds one (SSH). */
  close(): void {
    this.closeConnection?.();
  }

  private async call<T>(operation: string, fn: () => Promise<T>, meta: { mutating?: boolean; object?: string; reason?: string } = {}): Promise<T> {
    const attempts = meta.mutating ? 1 : this.readAttempts;
    if (meta.mutating) this.hooks.beforeCall?.({ target: this.target, operation, object: meta.object });
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const result = await withTimeout(fn(), this.timeoutFor(operation), operation);
        this.report(operation, meta, started, "ok");
        return result;
      } catch (error) {
        this.report(operation, meta, started, "error", describeDockerError(error));
        if (attempt >= attempts || !isTransient(error)) throw new DockerCallError(this.target, operation, error);
        await new Promise((r) => setTimeout(r, this.retryDelayMs * 3 ** (attempt - 1)));
      }
    }
  }

  /** How long a call may take before the reconcile that made it gives up (and retries with backoff). */
  private timeoutFor(operation: string): number {
    if (operation === "image.pull" || operation === "image.build") return this.timeouts.imageMs;
    if (operation === "container.stop" || operation === "container.remove") return this.timeouts.stopMs;
    if (operation === "container.wait" || operation === "exec.run") return this.timeouts.jobMs;
    return this.timeouts.callMs;
  }

  private report(operation: string, meta: { mutating?: boolean; object?: string; reason?: string }, started: number, outcome: "ok" | "error", error?: string) {
    this.hooks.onCall?.({
      target: this.target,
      operation,
      mutating: meta.mutating ?? false,
      object: meta.object,
      reason: meta.reason,
      durationMs: performance.now() - started,
      outcome,
      error,
    });
  }

  ping(): Promise<unknown> {
    return this.call("ping", () => this.docker.ping());
  }

  version(): Promise<Docker.DockerVersion> {
    return this.call("version", () => this.docker.version());
  }

  listContainers(labels: string[]): Promise<Docker.ContainerInfo[]> {
    return this.call("container.list", () => this.docker.listContainers({ all: true, filters: { label: labels } }));
  }

  listNetworks(labels: string[]): Promise<Docker.NetworkInspectInfo[]> {
    return this.call("network.list", () => this.docker.listNetworks({ filters: { label: labels } }));
  }

  async listVolumes(labels: string[]): Promise<Docker.VolumeInspectInfo[]> {
    const result = await this.call("volume.list", () => this.docker.listVolumes({ filters: { label: labels } }));
    return result.Volumes ?? [];
  }


  async volumesNamed(names: string[]): Promise<Docker.VolumeInspectInfo[]> {
    if (!names.length) return [];
    // Docker's name filter matches substrings: keep exact names only.
    const result = await this.call("volume.list", () => this.docker.listVolumes({ filters: { name: names } }));
    const wanted = new Set(names);
    return (result.Volumes ?? []).filter((v) => wanted.has(v.Name));
  }

  listImages(labels: string[]): Promise<Docker.ImageInfo[]> {
    return this.call("image.list", () => this.docker.listImages({ filters: { label: labels } }));
  }

  async removeImage(ref: string, reason: string): Promise<void> {
    await this.call("image.remove", () => this.docker.getImage(ref).remove(), { mutating: true, object: ref, reason }).catch((error) => {
      if (error instanceof DockerCallError && error.statusCode === 404) return;
      throw error;
    });
  }

  /** The last results of a container's Docker HEALTHCHECK, oldest first. */
  async healthLog(id: string): Promise<{ start: string; exitCode: number; output: string }[]> {
    const info = await this.call("container.inspect", () => this.docker.getContainer(id).inspect(), { object: id });
    return (info.State.Health?.Log ?? []).map((entry) => ({ start: entry.Start, exitCode: entry.ExitCode, output: entry.Output }));
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.call("image.inspect", () => this.docker.getImage(ref).inspect(), { object: ref });
      return true;
    } catch (error) {
      if (error instanceof DockerCallError && error.statusCode === 404) return false;
      throw error;
    }
  }

  async imageDigest(ref: string, image?: string): Promise<string | undefined> {
    try {
      const info = await this.call("image.inspect", () => this.docker.getImage(image ?? ref).inspect(), { object: image ?? ref });
      return digestOf(ref, info.RepoDigests ?? [], info.Id);
    } catch (error) {
      if (error instanceof DockerCallError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async createContainer(options: Docker.ContainerCreateOptions, reason: string): Promise<string> {
    const container = await this.call("container.create", () => this.docker.createContainer(options), { mutating: true, object: options.name, reason });
    return container.id;
  }

  async startContainer(id: string, reason: string): Promise<void> {
    await this.call("container.start", () => this.docker.getContainer(id).start(), { mutating: true, object: id, reason }).catch((error) => {
      if (error instanceof DockerCallError && error.statusCode === 304) return; // already running
      throw error;
    });
  }

  /** Stops gracefully: SIGTERM, then SIGKILL after the timeout (default: the container's own StopTimeout). */
  async stopContainer(id: string, timeoutSeconds: number | undefined, reason: string): Promise<void> {
    // Already stopping in the background: wait for that stop rather than send another.
    if (await this.retiring.settled(id)) return;
    await this.stopNow(id, timeoutSeconds, reason);
  }

  private async stopNow(id: string, timeoutSeconds: number | undefined, reason: string): Promise<void> {
    await this.call("container.stop", () => this.docker.getContainer(id).stop(timeoutSeconds === undefined ? {} : { t: timeoutSeconds }), { mutating: true, object: id, reason }).catch((error) => {
      if (error instanceof DockerCallError && (error.statusCode === 304 || error.statusCode === 404)) return; // already stopped, or gone
      throw error;
    });
  }

  async removeContainer(id: string, reason: string): Promise<void> {
    await this.call("container.remove", () => this.docker.getContainer(id).remove({ force: true }), { mutating: true, object: id, reason }).catch((error) => {
      if (error instanceof DockerCallError && error.statusCode === 404) return; // already gone
      throw error;
    });
  }

  async createNetwork(options: Docker.NetworkCreateOptions, reason: string): Promise<void> {
    await this.call("network.create", () => this.docker.createNetwork(options), { mutating: true, object: options.Name, reason });
  }

  async connectNetwork(network: string, containerId: string, aliases: string[], reason: string): Promise<void> {
    await this.call("network.connect", () => this.docker.getNetwork(network).connect({ Container: containerId, EndpointConfig: { Aliases: aliases } }), { mutating: true, object: `${network}/${containerId}`, reason });
  }

  async containerAliases(id: string): Promise<Record<string, string[]>> {
    const info = await this.call("container.inspect", () => this.docker.getContainer(id).inspect(), { object: id });
    return Object.fromEntries(Object.entries(info.NetworkSettings?.Networks ?? {}).map(([network, endpoint]) => [network, endpoint.Aliases ?? []]));
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

  async disconnectNetwork(network: string, containerId: string, reason: string): Promise<void> {
    await this.call("network.disconnect", () => this.docker.getNetwork(network).disconnect({ Container: containerId }), { mutating: true, object: `${network}/${containerId}`, reason }).catch((error) => {
      // Already off the network ("is not connected", 403 or 500 depending on the engine), or the container or network is gone.
      if (error instanceof DockerCallError && (error.statusCode === 403 || error.statusCode === 404 || /is not connected/i.test(error.message))) return;
      throw error;
    });
  }

  async removeNetwork(id: string, reason: string): Promise<void> {
    await this.call("network.remove", () => this.docker.getNetwork(id).remove(), { mutating: true, object: id, reason }).catch((error) => {
      if (error instanceof DockerCallError && error.statusCode === 404) return;
      throw error;
    });
  }

  async createVolume(options: Docker.VolumeCreateOptions, reason: string): Promise<void> {
    await this.call("volume.create", () => this.docker.createVolume(options), { mutating: true, object: options.Name, reason });
  }

  async removeVolume(name: string, reason: string): Promise<void> {
    await this.call("volume.remove", () => this.docker.getVolume(name).remove(), { mutating: true, object: name, reason }).catch((error) => {
      if (error instanceof DockerCallError && error.statusCode === 404) return;
      throw error;
    });
  }

  async pullImage(ref: string, reason: string, auth?: RegistryAuth): Promise<void> {
    await this.call(
      "image.pull",
      async () => {
        const stream = (await this.docker.pull(ref, auth ? { authconfig: auth } : {})) as Readable;
        await followProgress(this.docker, stream);
      },
      { mutating: true, object: ref, reason },
    );
  }

  async buildImage(context: { context: string; src: string[] }, options: Record<string, unknown>, reason: string): Promise<void> {
    await this.call(
      "image.build",
      async () => {
        // The context is packed here, not inside dockerode, so that a file that vanishes (or cannot be read) fails this
        // build instead of throwing where nothing listens; symlinks are packed as symlinks, never followed.
        const abort = new AbortController();
        const tar = packContext(context.context, { entries: context.src });
        const packing = new Promise<never>((_, reject) =>
          tar.once("error", (error: Error) => {
            abort.abort();
            reject(new Error(`build context ${context.context} changed while it was sent (${error.message}); expected it to stay as it was until the build starts`, { cause: error }));
          }),
        );
        packing.catch(() => {});
        const stream = (await Promise.race([this.docker.buildImage(tar as unknown as NodeJS.ReadableStream, { ...options, abortSignal: abort.signal }), packing])) as Readable;
        await Promise.race([followProgress(this.docker, stream), packing]);
      },
      { mutating: true, object: String(options.t), reason },
    );
  }


  /** The last lines a container printed, for messages about why it failed. */
  async logs(id: string, tail = 20): Promise<string> {
    const buffer = (await this.call("container.logs", () => this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail, follow: false }), { object: id })) as unknown as Buffer;
    return demuxLogs(buffer);
  }

  async runJob(options: Docker.ContainerCreateOptions, reason: string): Promise<JobResult> {
    const id = await this.createContainer(options, reason);
    try {
      await this.startContainer(id, reason);
      const waited = (await this.call("container.wait", () => this.docker.getContainer(id).wait(), { object: options.name })) as { StatusCode: number };
      return { exitCode: waited.StatusCode, output: await this.logs(id, 100) };
    } finally {
      // Removed whatever happened: a job that timed out is killed with it.
      await this.removeContainer(id, `${reason}: job ended`).catch(() => {});
    }
  }

  async execJob(id: string, cmd: string[], reason: string): Promise<JobResult> {
    return this.call(
      "exec.run",
      async () => {
        const exec = await this.docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
        const stream = (await exec.start({ hijack: true, stdin: false })) as Readable;
        // Only the end is kept: a hook that dumps a database to stdout must not fill the daemon's memory.
        let kept = Buffer.alloc(0);
        const sink = new PassThrough().on("data", (chunk: Buffer) => {
          kept = Buffer.concat([kept, chunk]);
          if (kept.length > 64 * 1024) kept = kept.subarray(kept.length - 64 * 1024);
        });
        this.docker.modem.demuxStream(stream, sink, sink);
        await new Promise<void>((resolve, reject) => {
          stream.on("end", resolve);
          stream.on("close", resolve);
          stream.on("error", reject);
        });
        const info = await exec.inspect();
        return { exitCode: info.ExitCode ?? 1, output: lastLines(kept.toString("utf8"), 100) };
      },
      { mutating: true, object: id, reason },
    );
  }

  /** Streams engine events about Berth's containers until the signal aborts or the stream ends. */
  async events(labels: string[], onEvent: (event: EngineEvent) => void, signal: AbortSignal): Promise<void> {
    const stream = (await this.call("events", () => this.docker.getEvents({ filters: { label: labels, type: ["container"] }, abortSignal: signal } as object))) as unknown as Readable;
    let pending = "";
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (chunk: Buffer) => {
        pending += chunk.toString("utf8");
        let newline: number;
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (!line) continue;
          try {
            const raw = JSON.parse(line) as { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; time: number };
            onEvent({ type: raw.Type, action: raw.Action, id: raw.Actor.ID, labels: raw.Actor.Attributes ?? {}, time: raw.time });
          } catch (error) {
            // An unreadable event ends the stream: the target reconnects and re-queues everything, so nothing it meant is lost.
            stream.destroy(new DockerCallError(this.target, "events", error));
          }
        }
      });
      stream.on("end", () => resolve());
      stream.on("close", () => resolve());
      stream.on("error", (error) => (signal.aborted ? resolve() : reject(new DockerCallError(this.target, "events", error))));
    });
  }
}

function followProgress(docker: Docker, stream: Readable): Promise<void> {
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (error: unknown, output: { error?: string; errorDetail?: { message?: string } }[]) => {
      const failed = output?.find((o) => o.error || o.errorDetail);
      if (error) reject(error);
      else if (failed) reject(new EngineStreamError(failed.errorDetail?.message ?? failed.error ?? "the engine reported an error without a message"));
      else resolve();
    }),
  );
}

/** The last `count` lines of a command's output: enough to say why it failed, never a whole dump. */
function lastLines(text: string, count: number): string {
  return text.split("\n").slice(-count - 1).join("\n");
}

/** Docker multiplexes stdout and stderr of non-TTY containers with 8-byte frame headers. */
export function demuxLogs(buffer: Buffer): string {
  if (!Buffer.isBuffer(buffer)) return String(buffer);
  const parts: string[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length && (buffer[offset] === 1 || buffer[offset] === 2 || buffer[offset] === 0)) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString("utf8"));
    offset += 8 + size;
  }
  return offset === 0 ? buffer.toString("utf8") : parts.join("");
}
