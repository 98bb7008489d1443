/**
 * A compose project, as `docker compose config` resolves it (interpolation,
 * override files, env_file and extends already applied), turned into
 * Berth's manifests. Pure. Every field Berth cannot express is reported
 * with its service and why, and written as a comment beside the manifest.
 */
import { isAbsolute, relative } from "node:path";
import type { EnvVar, HealthCheck, PortMapping, ServiceSpec, VolumeMount } from "../manifests/types.ts";
import { split } from "shlex";
import { dnsLabel, durationOf, healthOf, memoryOf, portOf, restartOf, volumeOf, type Unmapped } from "./fields.ts";

type Mapping = Record<string, unknown>;
const isMapping = (value: unknown): value is Mapping => typeof value === "object" && value !== null && !Array.isArray(value);
const mapping = (value: unknown): Mapping => (isMapping(value) ? value : {});

/** What compose itself says about the project, plus what only its source files show. */
export interface ComposeProject {
  /** `docker compose config` output. */
  config: Mapping;
  /** Compose's project name: the prefix of the volumes it made. */
  name: string;
  /** Per service, as written in the files: env_file paths (absolute) and environment values before interpolation. */
  sources: Record<string, { envFiles: string[]; environment: Record<string, string | null> }>;
  /** The project's `.env` (interpolation variables), if any: its absolute path and values. */
  dotenv?: { file: string; values: Record<string, string> };
  /** Values of each env_file, by absolute path. */
  envFileValues: Record<string, Record<string, string>>;
  /** Profiles to import besides services without any (as `--profile`). */
  profiles: string[];
}

export interface ImportOptions {
  project: string;
  environment: string;
  /** The manifests directory the output goes to: paths are written relative to it. */
  outDir: string;
}

export interface ReportItem extends Unmapped {
  /** The compose service, or "(project)" for top-level fields. */
  service: string;
}

export interface ImportedService {
  name: string;
  spec: ServiceSpec;
  annotations: Record<string, string>;
  unmapped: Unmapped[];
}

export interface Imported {
  project: { name: string; annotations: Record<string, string> };
  environment: { name: string; volumeNames: Record<string, string>; adopt: string };
  services: ImportedService[];
  /** Everything not mapped, project-wide and per service. */
  report: ReportItem[];
}

/** Service keys handled here; any other key is reported as having no Berth equivalent. */
const HANDLED = new Set(["image", "build", "command", "entrypoint", "environment", "env_file", "ports", "volumes", "networks", "depends_on", "healthcheck", "deploy", "restart", "labels", "secrets", "profiles", "working_dir", "user", "hostname", "stop_grace_period", "pull_policy", "scale", "container_name", "expose"]);

export function convertCompose(compose: ComposeProject, options: ImportOptions): Imported {
  const report: ReportItem[] = [];
  const top = (field: string, why: string) => report.push({ service: "(project)", field, why });
  const volumes = mapping(compose.config.volumes);
  const volumeNames: Record<string, string> = {};
  for (const [key, value] of Object.entries(volumes)) {
    const volume = mapping(value);
    const external = volume.external === true || isMapping(volume.external);
    const name = typeof volume.name === "string" ? volume.name : isMapping(volume.external) && typeof volume.external.name === "string" ? volume.external.name : external ? key : `${compose.name}_${key}`;
    // The same Docker volume as compose's: its data stays where it is.
    volumeNames[dnsLabel(key)] = name;
    if (volume.driver !== undefined && volume.driver !== "local") top(`volumes.${key}.driver`, `volume driver ${String(volume.driver)}: Berth uses the local driver`);
    if (volume.driver_opts !== undefined) top(`volumes.${key}.driver_opts`, "volume driver options are not set by Berth; the existing volume keeps its own");
  }
  for (const [key, value] of Object.entries(mapping(compose.config.networks))) {
    const network = mapping(value);
    if (network.external) top(`networks.${key}`, "external network: Berth creates and names the networks of an Environment itself");
    else if (network.driver !== undefined && network.driver !== "bridge") top(`networks.${key}.driver`, `network driver ${String(network.driver)}: Berth networks are bridge networks`);
    if (network.ipam !== undefined) top(`networks.${key}.ipam`, "fixed subnets are not set by Berth");
  }
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(compose.config)) if (key.startsWith("x-")) annotations[`compose.berth.dev/${key}`] = JSON.stringify(value);

  const services: ImportedService[] = [];
  const names = new Map<string, string>();
  for (const key of Object.keys(mapping(compose.config.services))) names.set(key, dnsLabel(key));
  for (const [key, value] of Object.entries(mapping(compose.config.services))) {
    const service = mapping(value);
    const profiles = Array.isArray(service.profiles) ? service.profiles.map(String) : [];
    if (profiles.length && !profiles.some((p) => compose.profiles.includes(p))) {
      report.push({ service: key, field: "profiles", why: `in profile(s) ${profiles.join(", ")}, none of them active: not imported (e.g. --profile ${profiles[0]})` });
      continue;
    }
    const imported = convertService(key, service, compose, options, names, volumes);
    services.push(imported);
    for (const u of imported.unmapped) report.push({ service: key, ...u });
  }
  return { project: { name: options.project, annotations }, environment: { name: options.environment, volumeNames, adopt: `compose/${compose.name}` }, services, report };
}

function convertService(key: string, service: Mapping, compose: ComposeProject, options: ImportOptions, names: Map<string, string>, volumes: Mapping): ImportedService {
  const unmapped: Unmapped[] = [];
  const name = names.get(key)!;
  if (name !== key) unmapped.push({ field: "name", why: `renamed ${key} -> ${name} (Berth names are DNS labels): other services reach it as ${name}` });
  // Compose resolved paths against its project directory; manifests name them from their own.
  const path = (p: string) => (isAbsolute(p) ? relative(options.outDir, p) || "." : p);
  const spec: Partial<ServiceSpec> & { project: string } = { project: options.project };

  const build = service.build === undefined ? undefined : typeof service.build === "string" ? { context: service.build } : mapping(service.build);
  if (build) {
    const args = Object.entries(mapping(build.args));
    const unset = args.filter(([, v]) => v === null || v === undefined).map(([k]) => k);
    if (unset.length) unmapped.push({ field: "build.args", why: `${unset.join(", ")} take their value from the shell in compose; Berth needs a value` });
    spec.build = {
      context: path(String(build.context ?? ".")),
      dockerfile: String(build.dockerfile ?? "Dockerfile"),
      ...(args.length > unset.length ? { args: Object.fromEntries(args.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, String(v)])) } : {}),
      ...(build.target ? { target: String(build.target) } : {}),
    };
    if (service.image) unmapped.push({ field: "image", why: `${String(service.image)} is the tag compose gives its build; Berth tags builds by the content of their context` });
    for (const k of Object.keys(build)) if (!["context", "dockerfile", "args", "target"].includes(k)) unmapped.push({ field: `build.${k}`, why: "no Berth equivalent" });
  } else if (service.image) spec.image = String(service.image);
  else unmapped.push({ field: "image", why: "neither image nor build: nothing to run" });

  const pull = { always: "Always", never: "Never", missing: "IfNotPresent", if_not_present: "IfNotPresent" }[String(service.pull_policy ?? "")] as ServiceSpec["imagePullPolicy"] | undefined;
  if (pull) spec.imagePullPolicy = pull;
  else if (service.pull_policy !== undefined && service.pull_policy !== "build") unmapped.push({ field: "pull_policy", why: `${String(service.pull_policy)} has no Berth equivalent` });

  for (const field of ["command", "entrypoint"] as const) {
    const value = service[field];
    if (value === undefined || value === null) continue;
    // A string is split as compose splits it (Python's shlex), without a shell.
    spec[field] = Array.isArray(value) ? value.map(String) : split(String(value));
  }
  if (typeof service.working_dir === "string") spec.workingDir = service.working_dir;
  if (service.user !== undefined) spec.user = String(service.user);
  if (typeof service.hostname === "string") spec.hostname = service.hostname;
  const grace = durationOf(service.stop_grace_period);
  if (grace) spec.stopGracePeriod = grace;

  const env = envOf(key, service, compose, path, unmapped);
  if (env.length) spec.env = env;

  const ports: PortMapping[] = [];
  for (const entry of Array.isArray(service.ports) ? service.ports : []) {
    const port = portOf(entry);
    if ("why" in port) unmapped.push(port);
    else ports.push(port);
  }
  if (ports.length) spec.ports = ports;

  const mounts: VolumeMount[] = [];
  for (const entry of Array.isArray(service.volumes) ? service.volumes : []) {
    const mount = volumeOf(entry, (source) => Object.hasOwn(volumes, source));
    if ("why" in mount) unmapped.push(mount);
    else mounts.push(mount.type === "volume" ? { ...mount, source: dnsLabel(mount.source!) } : mount.type === "bind" ? { ...mount, source: path(mount.source!) } : mount);
  }
  for (const entry of Array.isArray(service.secrets) ? service.secrets : []) {
    const ref: Mapping = isMapping(entry) ? entry : { source: entry };
    const secret = mapping(mapping(compose.config.secrets)[String(ref.source)]);
    const target = String(ref.target ?? ref.source);
    // Outside Swarm, compose mounts a file secret read-only at /run/secrets/<target>: so does Berth.
    if (typeof secret.file === "string") mounts.push({ type: "bind", source: path(secret.file), target: target.startsWith("/") ? target : `/run/secrets/${target}`, readOnly: true });
    else unmapped.push({ field: `secrets.${String(ref.source)}`, why: "only file secrets are mounted; expected file: in the top-level secret" });
  }
  if (mounts.length) spec.volumes = mounts;

  const networks = networksOf(service.networks, unmapped);
  if (networks.length) spec.networks = networks;

  const dependsOn = dependsOf(service.depends_on, names);
  if (dependsOn.length) spec.dependsOn = dependsOn;

  const health = healthOf(service.healthcheck);
  unmapped.push(...health.unmapped);
  if (health.check) spec.healthCheck = health.check as HealthCheck;

  const deploy = mapping(service.deploy);
  const replicas = deploy.replicas ?? service.scale;
  if (replicas !== undefined) spec.replicas = Number(replicas);
  const resources = resourcesOf(mapping(deploy.resources), unmapped);
  if (resources) spec.resources = resources;
  for (const k of Object.keys(deploy)) if (k !== "replicas" && k !== "resources") unmapped.push({ field: `deploy.${k}`, why: k === "update_config" ? "Berth's update settings are spec.update (rolling or recreate, maxSurge, maxUnavailable)" : "a Swarm setting with no single-host equivalent" });

  const restart = restartOf(service.restart);
  if (restart.policy) spec.restartPolicy = restart.policy;
  if (restart.unmapped) unmapped.push(restart.unmapped);
  const labels = labelsOf(service.labels);
  if (Object.keys(labels).length) spec.labels = labels;

  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(service)) {
    if (k.startsWith("x-")) annotations[`compose.berth.dev/${k}`] = JSON.stringify(v);
    else if (k === "container_name") unmapped.push({ field: k, why: "Berth names containers by project, environment, slot and revision, so that two can run during an update" });
    else if (k === "expose") unmapped.push({ field: k, why: "informational in compose: every port is reachable on the Environment's network" });
    else if (!HANDLED.has(k)) unmapped.push({ field: k, why: "no Berth equivalent" });
  }
  return { name, spec: spec as ServiceSpec, annotations, unmapped };
}

/**
 * Values from env files and from `.env` interpolation stay in their files
 * (valueFrom, masked like any secret); a variable compose reads from the
 * shell reads the daemon's environment; the rest is written as it is.
 */
function envOf(key: string, service: Mapping, compose: ComposeProject, path: (p: string) => string, unmapped: Unmapped[]): EnvVar[] {
  const source = compose.sources[key] ?? { envFiles: [], environment: {} };
  const env: EnvVar[] = [];
  for (const [name, value] of Object.entries(mapping(service.environment)).sort(([a], [b]) => a.localeCompare(b))) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      unmapped.push({ field: `environment.${name}`, why: "not a valid variable name for Berth (letters, digits, _)" });
      continue;
    }
    const raw = Object.hasOwn(source.environment, name) ? source.environment[name] : undefined;
    const reference = typeof raw === "string" ? /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(raw)?.[1] : undefined;
    if (value === null || value === undefined) {
      env.push({ name, valueFrom: { daemonEnv: name }, secret: true });
      continue;
    }
    if (reference && compose.dotenv && compose.dotenv.values[reference] === String(value)) {
      env.push({ name, valueFrom: { envFile: path(compose.dotenv.file), key: reference }, secret: true });
      continue;
    }
    const file = raw === undefined ? [...source.envFiles].reverse().find((f) => compose.envFileValues[f]?.[name] === String(value)) : undefined;
    if (file) {
      env.push({ name, valueFrom: { envFile: path(file) }, secret: true });
      continue;
    }
    if (typeof raw === "string" && raw.includes("$")) unmapped.push({ field: `environment.${name}`, why: "interpolated by compose at import time: written as its value and masked (secret: true); expected valueFrom with an env file for a secret" });
    env.push({ name, value: String(value), secret: typeof raw === "string" && raw.includes("$") });
  }
  return env;
}

function networksOf(value: unknown, unmapped: Unmapped[]): string[] {
  const entries = Array.isArray(value) ? value.map((n) => [String(n), undefined] as const) : Object.entries(mapping(value));
  const networks: string[] = [];
  for (const [network, settings] of entries) {
    const detail = mapping(settings);
    if (Array.isArray(detail.aliases) && detail.aliases.length) unmapped.push({ field: `networks.${network}.aliases`, why: "a Service answers to its own name only" });
    if (detail.ipv4_address || detail.ipv6_address) unmapped.push({ field: `networks.${network}`, why: "fixed addresses are not set by Berth" });
    // Every Service is on the Environment's network: compose's default network is that one.
    if (network !== "default") networks.push(dnsLabel(network));
  }
  return networks;
}

function dependsOf(value: unknown, names: Map<string, string>): ServiceSpec["dependsOn"] & object {
  const entries = Array.isArray(value) ? value.map((s) => [String(s), {}] as const) : Object.entries(mapping(value));
  return entries.map(([service, settings]) => {
    const condition = String(mapping(settings).condition ?? "service_started");
    return { service: names.get(service) ?? dnsLabel(service), condition: (["service_started", "service_healthy", "service_completed_successfully"].includes(condition) ? condition : "service_started") as "service_started" };
  });
}

function resourcesOf(resources: Mapping, unmapped: Unmapped[]): ServiceSpec["resources"] {
  const limits = mapping(resources.limits);
  const reservations = mapping(resources.reservations);
  const out: NonNullable<ServiceSpec["resources"]> = {};
  const memory = (value: unknown, field: string) => {
    const m = memoryOf(value);
    if (value !== undefined && m === undefined) unmapped.push({ field, why: `size ${JSON.stringify(value)} not understood` });
    return m;
  };
  if (limits.cpus !== undefined) out.cpus = Number(limits.cpus);
  const limit = memory(limits.memory, "deploy.resources.limits.memory");
  if (limit) out.memory = limit;
  const reservedMemory = memory(reservations.memory, "deploy.resources.reservations.memory");
  const reserved = { ...(reservations.cpus !== undefined ? { cpus: Number(reservations.cpus) } : {}), ...(reservedMemory ? { memory: reservedMemory } : {}) };
  if (Object.keys(reserved).length) out.reservations = reserved;
  if (limits.pids !== undefined) unmapped.push({ field: "deploy.resources.limits.pids", why: "no Berth equivalent" });
  if (reservations.devices !== undefined) unmapped.push({ field: "deploy.resources.reservations.devices", why: "devices are not passed by Berth" });
  return Object.keys(out).length ? out : undefined;
}

function labelsOf(value: unknown): Record<string, string> {
  if (Array.isArray(value)) return Object.fromEntries(value.map((l) => String(l).split(/=(.*)/s)).map(([k, v]) => [k!, v ?? ""]));
  return Object.fromEntries(Object.entries(mapping(value)).map(([k, v]) => [k, String(v ?? "")]));
}
