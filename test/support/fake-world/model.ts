import { createHash } from "node:crypto";
import type Docker from "dockerode";

/** The fake engine's records, and the small pieces of Docker semantics they share. */

export type ContainerState = "created" | "running" | "exited" | "dead" | "restarting";
export type Health = "healthy" | "unhealthy" | "starting";

export interface Clock {
  now(): number;
}

/** Milliseconds; tests move it by hand so status texts such as "Up 3 seconds" are exact. */
export interface FakeClock extends Clock {
  advance(ms: number): void;
}

export function settableClock(start = Date.UTC(2025, 0, 1)): FakeClock {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms) };
}

export interface HealthLogEntry {
  start: string;
  exitCode: number;
  output: string;
}

/** What a started container does; several matching behaviours merge, later ones winning. */
export interface Behaviour {
  /** Health once started (default "healthy"); Docker reports it only for containers with a Healthcheck. */
  health?: Health;
  /** The container exits right after starting, with this code. */
  exitCode?: number;
  /** Text the container prints on each start. */
  logs?: string;
  /** What inspect's State.Health.Log holds (Healthcheck containers only). */
  healthLog?: HealthLogEntry[];
  /** Exit code when stopped gracefully (default 0). */
  stopExitCode?: number;
}

export interface Binding {
  containerPort: number;
  type: string;
  hostIp: string;
  /** 0: Docker picks an ephemeral port on each start. */
  hostPort: number;
}

export interface Endpoint {
  aliases: string[];
  /** Set while the container runs, like Docker's bridge IPAM. */
  ip?: string;
}

export interface ContainerRecord {
  id: string;
  name: string;
  /** The reference as given to create; list output shows it while the tag still points at imageId. */
  image: string;
  imageId: string;
  /** Image labels overlaid with the create labels, as Docker merges them. */
  labels: Record<string, string>;
  state: ContainerState;
  exitCode: number;
  /** The app's health while it runs; undefined when not running. */
  health?: Health;
  /** Seconds, as in list output. */
  created: number;
  /** Milliseconds of the last start and the last exit, for status texts. */
  startedAt?: number;
  finishedAt?: number;
  networks: Map<string, Endpoint>;
  bindings: Binding[];
  /** Host ports taken while running, by binding index. */
  published: Map<number, number>;
  exposed: string[];
  /** Named volumes mounted (they stay "in use" until the container is removed). */
  volumes: { name: string; target: string; readOnly: boolean }[];
  options: Docker.ContainerCreateOptions;
  logs: string;
  behaviour: Behaviour;
}

export interface NetworkRecord {
  id: string;
  name: string;
  labels: Record<string, string>;
  driver: string;
  /** Third octet of 172.30.x.0/24. */
  subnet: number;
  nextHost: number;
  builtin: boolean;
  created: number;
}

export interface VolumeRecord {
  name: string;
  labels: Record<string, string>;
  /** Stand-in for the volume's data, so tests can check it survives. */
  files: Record<string, string>;
  created: number;
}

/** Images are kept by id; tags point at them, and a rebuilt tag leaves the old image dangling, as in Docker. */
export interface ImageRecord {
  id: string;
  labels: Record<string, string>;
  created: number;
}

/** Docker's label filters: "key" means the label is present, "key=value" an exact value; all must match. */
export function matchesLabels(labels: Record<string, string> | undefined, filters: readonly string[]): boolean {
  return filters.every((filter) => {
    const eq = filter.indexOf("=");
    if (eq < 0) return labels?.[filter] !== undefined;
    return labels?.[filter.slice(0, eq)] === filter.slice(eq + 1);
  });
}

/** "busybox" and "docker.io/library/busybox:latest" name one image, as they do for Docker. */
export function normalizeRef(ref: string): string {
  const short = ref.replace(/^docker\.io\/(library\/)?/, "");
  const last = short.slice(short.lastIndexOf("/") + 1);
  return last.includes(":") || last.includes("@") ? short : `${short}:latest`;
}

/** 64 hex characters that depend only on a counter, so runs repeat exactly. */
export function hexId(kind: string, n: number): string {
  return createHash("sha256").update(`${kind}-${n}`).digest("hex");
}

/** An error shaped like dockerode's: DockerCallError reads statusCode and json.message. */
export function engineError(statusCode: number, message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode, json: { message } });
}

/** Docker's units.HumanDuration, which list output's Status texts use. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** A Healthcheck of ["NONE"] disables the image's check, so Docker reports no health. */
export function hasHealthcheck(options: Docker.ContainerCreateOptions): boolean {
  const test = options.Healthcheck?.Test;
  return !!test?.length && test[0] !== "NONE";
}

/** Networks a container joins: its NetworkMode plus NetworkingConfig's endpoints, with aliases. */
export function endpointsOf(options: Docker.ContainerCreateOptions): Map<string, string[]> {
  const mode = options.HostConfig?.NetworkMode ?? "bridge";
  const endpoints = new Map<string, string[]>();
  if (!mode.startsWith("container:")) endpoints.set(mode === "default" ? "bridge" : mode, []);
  for (const [name, config] of Object.entries(options.NetworkingConfig?.EndpointsConfig ?? {})) endpoints.set(name, (config.Aliases as string[] | undefined) ?? []);
  return endpoints;
}

/** Named volumes from Mounts (which may carry labels) and from "name:/path" Binds (which cannot). */
export function volumesOf(options: Docker.ContainerCreateOptions): { name: string; target: string; readOnly: boolean; labels: Record<string, string> }[] {
  const volumes = (options.HostConfig?.Mounts ?? [])
    .filter((m) => m.Type === "volume" && m.Source)
    .map((m) => ({ name: m.Source, target: m.Target, readOnly: !!m.ReadOnly, labels: m.VolumeOptions?.Labels ?? {} }));
  for (const bind of options.HostConfig?.Binds ?? []) {
    const [source = "", target = "", mode = ""] = bind.split(":");
    if (!source.startsWith("/") && !source.startsWith(".")) volumes.push({ name: source, target, readOnly: mode.split(",").includes("ro"), labels: {} });
  }
  return volumes;
}

export function bindingsOf(options: Docker.ContainerCreateOptions): Binding[] {
  const bindings: Binding[] = [];
  for (const [key, list] of Object.entries((options.HostConfig?.PortBindings ?? {}) as Docker.PortMap)) {
    const [port, type = "tcp"] = key.split("/");
    for (const b of list ?? []) bindings.push({ containerPort: Number(port), type, hostIp: b.HostIp ?? "", hostPort: Number(b.HostPort || 0) });
  }
  return bindings;
}
