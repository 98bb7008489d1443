import type Docker from "dockerode";
import { LABEL } from "../../../src/docker/labels.ts";
import { type ContainerRecord, type ContainerState, hasHealthcheck, type Health, humanDuration, type ImageRecord, type NetworkRecord, type VolumeRecord } from "./model.ts";

/** Renders records the way Docker's list endpoints answer, so src/docker/observe.ts parses them unchanged. */

const HEALTH_TEXT = { healthy: "(healthy)", unhealthy: "(unhealthy)", starting: "(health: starting)" } as const;

/** The Status column: Berth reads state details from it instead of inspecting. */
export function statusText(c: ContainerRecord, now: number): string {
  switch (c.state) {
    case "created":
      return "Created";
    case "running": {
      const up = `Up ${humanDuration(now - (c.startedAt ?? now))}`;
      return hasHealthcheck(c.options) && c.health ? `${up} ${HEALTH_TEXT[c.health]}` : up;
    }
    case "restarting":
      return `Restarting (${c.exitCode}) ${humanDuration(now - (c.finishedAt ?? now))} ago`;
    case "exited":
      return `Exited (${c.exitCode}) ${humanDuration(now - (c.finishedAt ?? now))} ago`;
    case "dead":
      return "Dead";
  }
}

/** `tagged`: the image id the container's reference points at now. */
export function containerInfo(c: ContainerRecord, networks: NetworkRecord[], tagged: string | undefined, now: number): Docker.ContainerInfo {
  const byName = new Map(networks.map((n) => [n.name, n]));
  const running = c.state === "running";
  const ports: Docker.Port[] = [];
  const bound = new Set<string>();
  // Host ports show only while the container runs; the container side always shows.
  c.bindings.forEach((b, i) => {
    const key = `${b.containerPort}/${b.type}`;
    const host = c.published.get(i);
    if (running && host !== undefined) ports.push({ IP: b.hostIp || "0.0.0.0", PrivatePort: b.containerPort, PublicPort: host, Type: b.type });
    else if (!bound.has(key)) ports.push({ PrivatePort: b.containerPort, Type: b.type } as Docker.Port);
    bound.add(key);
  });
  for (const key of c.exposed) {
    if (bound.has(key)) continue;
    const [port, type] = key.split("/");
    ports.push({ PrivatePort: Number(port), Type: type ?? "tcp" } as Docker.Port);
  }
  const endpoints: Record<string, Docker.NetworkInfo> = {};
  for (const [name, e] of c.networks) {
    const n = byName.get(name);
    endpoints[name] = {
      Aliases: e.aliases.length ? e.aliases : null,
      NetworkID: n?.id ?? "",
      EndpointID: running && e.ip ? `${c.id.slice(0, 32)}${n?.id.slice(0, 32) ?? ""}` : "",
      Gateway: running && e.ip && n ? `172.30.${n.subnet}.1` : "",
      IPAddress: running ? (e.ip ?? "") : "",
      IPPrefixLen: running && e.ip ? 24 : 0,
      IPv6Gateway: "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      MacAddress: "",
    };
  }
  const command = [c.options.Entrypoint ?? [], c.options.Cmd ?? []].flat().join(" ");
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    // Once the tag moves to a newer image, Docker shows the old container's image by id.
    Image: tagged === c.imageId ? c.image : c.imageId,
    ImageID: c.imageId,
    Command: command,
    Created: c.created,
    Ports: ports,
    Labels: { ...c.labels },
    State: c.state,
    Status: statusText(c, now),
    HostConfig: { NetworkMode: c.options.HostConfig?.NetworkMode ?? "bridge" },
    NetworkSettings: { Networks: endpoints },
    Mounts: c.volumes.map((v) => ({ Name: v.name, Type: "volume", Source: `/var/lib/docker/volumes/${v.name}/_data`, Destination: v.target, Driver: "local", Mode: "z", RW: !v.readOnly, Propagation: "" })),
  };
}

export function networkInfo(n: NetworkRecord): Docker.NetworkInspectInfo {
  return {
    Name: n.name,
    Id: n.id,
    Created: new Date(n.created).toISOString(),
    Scope: "local",
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: {}, Config: n.driver === "bridge" ? [{ Subnet: `172.30.${n.subnet}.0/24`, Gateway: `172.30.${n.subnet}.1` }] : [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    // The list endpoint never fills Containers; only inspect does.
    Containers: {},
    Options: {},
    Labels: { ...n.labels },
  };
}

export function volumeInfo(v: VolumeRecord): Docker.VolumeInspectInfo {
  return { Name: v.name, Driver: "local", Mountpoint: `/var/lib/docker/volumes/${v.name}/_data`, Labels: { ...v.labels }, Scope: "local", Options: null };
}

export function imageInfo(image: ImageRecord, refs: string[]): Docker.ImageInfo {
  return {
    Id: image.id,
    ParentId: "",
    RepoTags: refs.length ? refs : ["<none>:<none>"],
    RepoDigests: [],
    Created: Math.floor(image.created / 1000),
    Size: 4_000_000,
    VirtualSize: 4_000_000,
    SharedSize: -1,
    Labels: { ...image.labels },
    Containers: -1, // what the list endpoint says unless asked to count
  };
}

/** A container as assertions want it. */
export interface ContainerView {
  id: string;
  name: string;
  image: string;
  service: string;
  /** From the replica label; -1 when missing. */
  slot: number;
  specHash: string;
  state: ContainerState;
  exitCode: number;
  /** Docker's health, as Berth observes it: only for containers with a Healthcheck, only while running. */
  health?: Health;
  labels: Record<string, string>;
}

/** The assertion view of a record. */
export function view(c: ContainerRecord): ContainerView {
  const slot = Number(c.labels[LABEL.replica]);
  return {
    id: c.id,
    name: c.name,
    image: c.image,
    service: c.labels[LABEL.service] ?? "",
    slot: Number.isInteger(slot) && slot >= 0 ? slot : -1,
    specHash: c.labels[LABEL.specHash] ?? "",
    state: c.state,
    exitCode: c.exitCode,
    health: hasHealthcheck(c.options) ? c.health : undefined,
    labels: { ...c.labels },
  };
}
