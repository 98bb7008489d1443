import type Docker from "dockerode";
import type { Driver } from "./driver.ts";
import { LABEL, ownerFilter } from "./labels.ts";

export type ContainerHealth = "healthy" | "unhealthy" | "starting";

/** A Berth-owned container as one list call shows it. */
export interface ObservedContainer {
  id: string;
  name: string;
  project: string;
  environment: string;
  service: string;
  /** Replica slot from the label; -1 when the label is missing or malformed. */
  slot: number;
  specHash: string;
  state: "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
  exitCode?: number;
  /** Docker's own health status, when the container has a HEALTHCHECK. */
  health?: ContainerHealth;
  created: number;
  /** The image reference the container was created from. */
  image?: string;
  /** Address on each network, by network name. */
  addresses: Record<string, string>;
  /** Host ports published per container port, e.g. {"8080/tcp": 49153}. */
  published: Record<string, number>;
  /** Every network it is attached to, running or not. */
  networks: string[];
  /** Named volumes it mounts. */
  volumes: string[];
  /** Created outside its service's name, to join it once ready: only an inspect tells whether it has. */
  joinWhenReady?: boolean;
  /** Known not to answer to its service's name yet (set by the service's observation, from that inspect). */
  unjoined?: boolean;
  /** Being stopped in the background after a rollout took it out of service: leaving, nothing more to do with it. */
  retiring?: boolean;
}

export interface ObservedNetwork {
  id: string;
  name: string;
  project: string;
  environment: string;
}

export interface ObservedVolume {
  name: string;
  project: string;
  environment: string;
}

/** What exists on a target, owned by Berth, narrowed to a scope. */
export interface Observed {
  containers: ObservedContainer[];
  networks: ObservedNetwork[];
  /** Volumes with Berth's labels for the scope: the only ones Berth may ever remove. */
  volumes: ObservedVolume[];
  /**
   * Wanted volume names that exist without Berth's labels for the scope (made
   * with `docker volume create`, by compose, …): used as they are, never
   * created or removed. Only looked for when the caller names wanted volumes;
   * absent otherwise.
   */
  adoptedVolumes?: string[];
}

/** The calls observe makes; DockerDriver has them all. */
export type ObserveDriver = Pick<Driver, "target" | "listContainers" | "listNetworks" | "listVolumes" | "volumesNamed">;

/** Reads container state from a list entry's Status text, so no inspect call is needed. */
export function toObservedContainer(info: Docker.ContainerInfo): ObservedContainer {
  const labels = info.Labels ?? {};
  const slot = Number(labels[LABEL.replica]);
  const health = /\((healthy|unhealthy|health: starting)\)/.exec(info.Status)?.[1];
  const exit = /^Exited \((-?\d+)\)/.exec(info.Status)?.[1];
  const addresses: Record<string, string> = {};
  for (const [network, settings] of Object.entries(info.NetworkSettings?.Networks ?? {})) if (settings.IPAddress) addresses[network] = settings.IPAddress;
  const published: Record<string, number> = {};
  for (const port of info.Ports ?? []) if (port.PublicPort) published[`${port.PrivatePort}/${port.Type}`] = port.PublicPort;
  return {
    id: info.Id,
    name: (info.Names?.[0] ?? info.Id).replace(/^\//, ""),
    image: info.Image,
    project: labels[LABEL.project] ?? "",
    environment: labels[LABEL.environment] ?? "",
    service: labels[LABEL.service] ?? "",
    slot: Number.isInteger(slot) && slot >= 0 ? slot : -1,
    specHash: labels[LABEL.specHash] ?? "",
    state: info.State as ObservedContainer["state"],
    exitCode: exit === undefined ? undefined : Number(exit),
    health: health === "health: starting" ? "starting" : (health as ContainerHealth | undefined),
    created: info.Created,
    addresses,
    published,
    networks: Object.keys(info.NetworkSettings?.Networks ?? {}),
    volumes: (info.Mounts ?? []).flatMap((m) => (m.Type === "volume" && m.Name ? [m.Name] : [])),
    ...(labels[LABEL.joinWhenReady] === "true" ? { joinWhenReady: true } : {}),
  };
}

/**
 * Lists Berth's containers, networks and volumes in a scope: three list calls,
 * no inspects. Given the volume names the scope wants, also reports which of
 * them exist without Berth's labels (`adoptedVolumes`); that takes a fourth
 * call only when a wanted name is missing from the labelled volumes.
 */
export async function observe(driver: ObserveDriver, scope: { project?: string; environment?: string } = {}, wantedVolumes?: readonly string[]): Promise<Observed> {
  const filter = ownerFilter({ ...scope, target: driver.target });
  const [containers, networks, volumes] = await Promise.all([driver.listContainers(filter), driver.listNetworks(filter), driver.listVolumes(filter)]);
  const observed: Observed = {
    containers: containers.filter(notSwarmTask).map(toObservedContainer),
    networks: networks.map((n) => ({ id: n.Id, name: n.Name, project: n.Labels?.[LABEL.project] ?? "", environment: n.Labels?.[LABEL.environment] ?? "" })),
    volumes: volumes.map((v) => ({ name: v.Name, project: v.Labels?.[LABEL.project] ?? "", environment: v.Labels?.[LABEL.environment] ?? "" })),
  };
  if (wantedVolumes) observed.adoptedVolumes = await unlabelledVolumes(driver, wantedVolumes, observed.volumes);
  return observed;
}

/** Which wanted names exist as volumes other than the labelled ones, in the order wanted. */
async function unlabelledVolumes(driver: ObserveDriver, wanted: readonly string[], labelled: readonly ObservedVolume[]): Promise<string[]> {
  const ours = new Set(labelled.map((v) => v.name));
  const missing = [...new Set(wanted)].filter((name) => !ours.has(name));
  if (!missing.length) return [];
  const found = new Set((await driver.volumesNamed(missing)).map((v) => v.Name));
  return missing.filter((name) => found.has(name));
}

/** Lists only the containers of a scope: one call. */
export async function observeContainers(driver: Pick<Driver, "target" | "listContainers">, scope: { project?: string; environment?: string; service?: string }): Promise<ObservedContainer[]> {
  return (await driver.listContainers(ownerFilter({ ...scope, target: driver.target }))).filter(notSwarmTask).map(toObservedContainer);
}

/**
 * A task container of a Swarm service carries the service's labels but is
 * Swarm's: removing or replacing it would fight Swarm, which starts it again.
 * Berth changes it only through its service (controllers/service/swarm).
 */
export function notSwarmTask(container: Pick<Docker.ContainerInfo, "Labels">): boolean {
  return container.Labels?.["com.docker.swarm.task.id"] === undefined;
}
