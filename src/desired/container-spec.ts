import type Docker from "dockerode";
import { LABEL } from "../docker/labels.ts";
import type { HealthCheck, PortMapping, Resources, ServiceSpec, VolumeMount } from "../manifests/types.ts";
import { durationMs, memoryBytes } from "./units.ts";
import { volumeName } from "./names.ts";

/** What a container of a service looks like, before it gets a name and a replica slot. */
export type ContainerTemplate = Omit<Docker.ContainerCreateOptions, "name">;

export interface TemplateInput {
  target: string;
  project: string;
  environment: string;
  service: string;
  spec: ServiceSpec;
  image: string;
  env: string[];
  ports: PortMapping[];
  resources?: Resources;
  labels: Record<string, string>;
  network: string;
  /** Absolute paths of bind mount sources. */
  resolvePath: (path: string) => string;
  /** Docker names the Environment gives its volumes (spec.volumeNames). */
  volumeNames?: Readonly<Record<string, string>>;
}

const NS_PER_MS = 1_000_000;

/** Maps a Service's effective spec onto Docker's container configuration. */
export function containerTemplate(input: TemplateInput): ContainerTemplate {
  const { spec, project, environment, service } = input;
  const exposed = Object.fromEntries(input.ports.map((p) => [`${p.container}/${p.protocol}`, {}]));
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of input.ports) {
    if (p.host === undefined) continue;
    (bindings[`${p.container}/${p.protocol}`] ??= []).push({ HostIp: p.hostIP, HostPort: String(p.host) });
  }
  return {
    Image: input.image,
    Cmd: spec.command,
    Entrypoint: spec.entrypoint,
    WorkingDir: spec.workingDir,
    User: spec.user,
    Hostname: spec.hostname,
    Env: input.env,
    Labels: {
      ...input.labels,
      [LABEL.managed]: "true",
      [LABEL.target]: input.target,
      [LABEL.project]: project,
      [LABEL.environment]: environment,
      [LABEL.service]: service,
    },
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Healthcheck: spec.healthCheck?.exec ? dockerHealthcheck(spec.healthCheck) : undefined,
    StopTimeout: Math.ceil(durationMs(spec.stopGracePeriod) / 1000),
    HostConfig: {
      NetworkMode: input.network,
      PortBindings: Object.keys(bindings).length ? bindings : undefined,
      Mounts: spec.volumes?.map((v) => mount(v, input, project, environment)),
      RestartPolicy: { Name: spec.restartPolicy === "no" ? "" : spec.restartPolicy },
      ...resourceLimits(input.resources),
    },
    NetworkingConfig: { EndpointsConfig: { [input.network]: { Aliases: [service] } } },
  };
}

function dockerHealthcheck(check: HealthCheck): Docker.HealthConfig {
  return {
    Test: ["CMD", ...check.exec!.command],
    Interval: durationMs(check.interval) * NS_PER_MS,
    Timeout: durationMs(check.timeout) * NS_PER_MS,
    Retries: check.retries,
    StartPeriod: durationMs(check.startPeriod) * NS_PER_MS,
  };
}

function mount(volume: VolumeMount, input: Pick<TemplateInput, "target" | "resolvePath" | "volumeNames">, project: string, environment: string): Docker.MountSettings {
  const { target } = input;
  if (volume.type === "tmpfs") return { Type: "tmpfs", Source: "", Target: volume.target, ReadOnly: volume.readOnly };
  if (volume.type === "bind") return { Type: "bind", Source: input.resolvePath(volume.source!), Target: volume.target, ReadOnly: volume.readOnly };
  const name = volumeName(project, environment, volume.source!, input.volumeNames);
  // Should Docker ever create the volume itself, it still carries Berth's labels and stays visible to pruning rules.
  const labels = { [LABEL.managed]: "true", [LABEL.target]: target, [LABEL.project]: project, [LABEL.environment]: environment, [LABEL.volume]: name };
  return { Type: "volume", Source: name, Target: volume.target, ReadOnly: volume.readOnly, VolumeOptions: { NoCopy: false, Labels: labels, DriverConfig: { Name: "local", Options: {} } } };
}

function resourceLimits(resources: Resources | undefined): Partial<Docker.HostConfig> {
  if (!resources) return {};
  return {
    NanoCpus: resources.cpus !== undefined ? Math.round(resources.cpus * 1e9) : undefined,
    Memory: resources.memory !== undefined ? memoryBytes(resources.memory) : undefined,
    MemoryReservation: resources.reservations?.memory !== undefined ? memoryBytes(resources.reservations.memory) : undefined,
    // Docker has no CPU reservation for plain containers; the closest is a relative weight under contention.
    CpuShares: resources.reservations?.cpus !== undefined ? Math.round(resources.reservations.cpus * 1024) : undefined,
  };
}
