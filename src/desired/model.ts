import { isAbsolute, resolve } from "node:path";
import type { DesiredState } from "../manifests/load.ts";
import type {
  DependencyCondition,
  DeploymentTarget,
  Environment,
  HealthCheck,
  Project,
  Service,
  ServiceSpec,
} from "../manifests/types.ts";
import { writableNamedVolumes } from "../manifests/rules/strategy.ts";
import { LABEL } from "../docker/labels.ts";
import { readBuildContext } from "./build-context.ts";
import { containerTemplate, type ContainerTemplate } from "./container-spec.ts";
import { EnvFileReader, resolveEnv, SpecError } from "./env.ts";
import { AgeKeyring, ageKeySource } from "../secrets/age-keys.ts";
import { SopsEnvFiles } from "../secrets/sops-env.ts";
import { resolveRegistryLogins } from "./registries.ts";
import type { RegistryLogin } from "../docker/registry-auth.ts";
import { HostPathPolicy, type HostPathOptions } from "./host-paths.ts";
import { routingLabels } from "./routing.ts";
import { revisionHash } from "./revision-hash.ts";
import { environmentKey, networkName, serviceKey, volumeName } from "./names.ts";
import { durationMs } from "./units.ts";
import { backupVolumes, desiredBackups, type DesiredBackup } from "./backups.ts";

export interface ImageSource {
  ref: string;
  pullPolicy: ServiceSpec["imagePullPolicy"];
  build?: { dir: string; files: string[]; dockerfile: string; args?: Record<string, string>; target?: string };
}

/** One Service as it should run in one Environment: everything a planner needs, already resolved. */
export interface DesiredService {
  key: string;
  project: string;
  environment: string;
  service: string;
  target: string;
  replicas: number;
  suspended: boolean;
  image: ImageSource;
  dependsOn: { service: string; condition: DependencyCondition }[];
  healthCheck?: HealthCheck;
  restartPolicy: ServiceSpec["restartPolicy"];
  stopGraceSeconds: number;
  strategy: "rolling" | "recreate";
  /** How long a new revision may take to run healthy before its rollout counts as failed. */
  healthTimeout: string;
  /** New containers a rolling update may run beside the old ones (at least 1 when maxUnavailable is 0). */
  maxSurge: number;
  /** Replica slots a rolling update may leave without a ready container. */
  maxUnavailable: number;
  /** Restore the previous revision when a rollout fails. */
  autoRollback: boolean;
  template: ContainerTemplate;
  /** Docker networks to join besides the environment's own. */
  extraNetworks: string[];
  /** The revision: changes exactly when what the containers do or how they are judged changes (see revisionHash). */
  specHash: string;
  secretNames: string[];
  /** Why this service cannot be deployed as written; set instead of a usable template. */
  error?: string;
  /** The compose project whose container of this service it takes over (Environment spec.adopt). */
  adoptCompose?: string;
  /** Its named volumes that are backed up on a schedule (volumes[].backup). */
  backups: DesiredBackup[];
  /** Set when its target is a Swarm cluster: it runs as a Swarm service, placed so. */
  swarm?: SwarmPlacement;
}

/** Where a Swarm service's tasks may run (Service spec.global and spec.placement). */
export interface SwarmPlacement {
  global: boolean;
  constraints: string[];
  /** Node labels to spread tasks over, in order. */
  spread: string[];
}

export interface DesiredEnvironment {
  key: string;
  project: string;
  environment: string;
  target: string;
  suspended: boolean;
  pruneVolumes: boolean;
  network: string;
  extraNetworks: string[];
  volumes: string[];
  /** Its target is a Swarm cluster: its networks are attachable overlay networks, and Swarm makes volumes on the nodes tasks run on. */
  swarm?: boolean;
  /** Services in dependency order: every service after the ones it depends on. */
  services: DesiredService[];
  labels: Record<string, string>;
  /** The compose project it takes over (spec.adopt): its networks go once nothing uses them. */
  adoptCompose?: string;
}

/** Everything Berth should make true, derived from one desired state. */
export interface DesiredModel {
  targets: Map<string, DeploymentTarget>;
  projects: Map<string, Project>;
  environments: Map<string, DesiredEnvironment>;
  services: Map<string, DesiredService>;
  revision?: string;
  /** Pruning is safe only when every manifest file is valid. */
  complete: boolean;
  /** Each target's registry credentials, passwords read (secrets: never shown, logged or stored). */
  registries?: Map<string, RegistryLogin[]>;
}

export interface ModelOptions {
  daemonEnv?: NodeJS.ProcessEnv;
  /**
   * What the host's operator lets manifests read and mount beyond the defaults (--allow-host-path).
   * Without it the policy still applies, with nothing extra allowed: env files and build contexts
   * inside the manifests directory, no bind of a system folder or the Docker socket.
   */
  hostPaths?: HostPathOptions;
  /** The operator's age identities, for env files encrypted with SOPS (--age-key-file). */
  ageKeys?: AgeKeyring;
}

/** Resolves overrides, env files, build contexts and container configs for every environment × service. */
export function buildDesiredModel(state: DesiredState, options: ModelOptions = {}): DesiredModel {
  const of = <K extends string>(kind: K) => state.resources.filter((r) => r.kind === kind);
  const targets = new Map((of("DeploymentTarget") as DeploymentTarget[]).map((t) => [t.metadata.name, t]));
  const projects = new Map((of("Project") as Project[]).map((p) => [p.metadata.name, p]));
  const services = of("Service") as Service[];
  const policy = new HostPathPolicy(state.dir, options.hostPaths);
  // Without an operator's key file an encrypted env file is still recognised, and reported as unreadable.
  const files = new EnvFileReader(state.dir, policy, new SopsEnvFiles(options.ageKeys ?? new AgeKeyring(ageKeySource(undefined, {}))));
  const daemonEnv = options.daemonEnv ?? process.env;
  const registries = new Map([...targets].map(([name, target]) => [name, resolveRegistryLogins(target, files, daemonEnv)]));
  const model: DesiredModel = { targets, projects, environments: new Map(), services: new Map(), revision: state.revision?.commit, complete: state.complete, registries };

  for (const env of of("Environment") as Environment[]) {
    const { project, target, suspend } = env.spec;
    if (!projects.has(project) || !targets.has(target)) continue; // reported by validation
    const environment = env.metadata.name;
    const projectLabels = projects.get(project)!.spec.labels ?? {};
    const own = services.filter((s) => s.spec.project === project);
    const routing = { domain: env.spec.domain ?? targets.get(target)!.spec.domain, tls: targets.get(target)!.spec.tls };
    const local = targets.get(target)!.spec.type === "local";
    const swarm = targets.get(target)!.spec.type === "swarm";
    const desired = own.map((s) => desiredService(s, env, projectLabels, { files, policy, local, swarm }, state.dir, options.daemonEnv ?? process.env, state.revision?.commit, routing));
    const ordered = dependencyOrder(desired);
    for (const s of ordered) model.services.set(s.key, s);
    model.environments.set(environment, {
      key: environmentKey(environment),
      project,
      environment,
      target,
      suspended: suspend,
      pruneVolumes: env.spec.pruneVolumes,
      swarm,
      network: networkName(project, environment),
      extraNetworks: [...new Set(own.flatMap((s) => s.spec.networks ?? []))].map((n) => networkName(project, environment, n)),
      volumes: [
        ...new Set([
          ...own.flatMap((s) => (s.spec.volumes ?? []).filter((v) => v.type === "volume").map((v) => volumeName(project, environment, v.source!, env.spec.volumeNames))),
          ...backupVolumes(ordered.flatMap((s) => s.backups)),
        ]),
      ],
      services: ordered,
      labels: projectLabels,
      ...(env.spec.adopt ? { adoptCompose: adoptedProject(env.spec.adopt) } : {}),
    });
  }
  return model;
}

function desiredService(
  service: Service,
  env: Environment,
  projectLabels: Record<string, string>,
  host: { files: EnvFileReader; policy: HostPathPolicy; local: boolean; swarm: boolean },
  manifestsDir: string,
  daemonEnv: NodeJS.ProcessEnv,
  revision: string | undefined,
  routing: { domain?: string; tls: boolean },
): DesiredService {
  const spec = service.spec;
  const name = service.metadata.name;
  const { project } = spec;
  const environment = env.metadata.name;
  const override = env.spec.overrides?.[name] ?? {};
  // Normalised ("..", ".", "//" resolved), so a path is judged, and mounted, as what it names.
  const resolvePath = (p: string) => (isAbsolute(p) ? resolve(p) : resolve(manifestsDir, p));
  const where = locationOf(service);
  const envWhere = { environment: locationOf(env), service: where };
  // Bind sources are on the target's host; on a local target that is this host, so symlinks are followed too.
  const bindSource = (p: string) => {
    const source = resolvePath(p);
    host.policy.bindable(source, where, host.local);
    return source;
  };
  const ports = override.ports ?? spec.ports ?? [];
  const strategy = spec.update?.strategy ?? defaultStrategy(spec, ports);
  const base = {
    key: serviceKey(environment, name),
    project,
    environment,
    service: name,
    target: env.spec.target,
    replicas: override.replicas ?? spec.replicas,
    suspended: env.spec.suspend,
    dependsOn: spec.dependsOn ?? [],
    healthCheck: spec.healthCheck,
    restartPolicy: spec.restartPolicy,
    stopGraceSeconds: Math.ceil(durationMs(spec.stopGracePeriod) / 1000),
    strategy,
    healthTimeout: spec.update?.healthTimeout ?? "2m",
    maxUnavailable: spec.update?.maxUnavailable ?? 0,
    // Neither surge nor unavailability would leave a rolling update no way forward.
    maxSurge: Math.max(spec.update?.maxSurge ?? 1, spec.update?.maxUnavailable ? 0 : 1),
    autoRollback: spec.update?.autoRollback ?? true,
    extraNetworks: (spec.networks ?? []).map((n) => networkName(project, environment, n)),
    ...(env.spec.adopt ? { adoptCompose: adoptedProject(env.spec.adopt) } : {}),
    backups: desiredBackups(serviceKey(environment, name), spec.volumes ?? [], project, environment, env.spec.volumeNames),
    ...(host.swarm ? { swarm: { global: spec.global ?? false, constraints: (spec.placement?.constraints ?? []).map((c) => c.trim()), spread: (spec.placement?.preferences ?? []).map((p) => p.spread) } } : {}),
  } satisfies Partial<DesiredService>;
  try {
    if (host.swarm) swarmPortsPublishable(ports, where);
    const image = imageSource(service, override.image, resolvePath, host.policy, where);
    const env_ = resolveEnv(env.spec, spec.env, override.env, host.files, daemonEnv, envWhere);
    const template = containerTemplate({
      target: env.spec.target,
      project,
      environment,
      service: name,
      spec,
      image: image.ref,
      env: env_.entries,
      ports,
      resources: override.resources ?? spec.resources,
      labels: { ...projectLabels, ...(spec.labels ?? {}), ...routingLabels(spec.routing, { project, environment, service: name, network: networkName(project, environment), ...routing }) },
      network: networkName(project, environment),
      resolvePath: bindSource,
      volumeNames: env.spec.volumeNames,
    });
    // A backup's host directory is mounted read-write as root: held to the same policy as a bind mount.
    for (const b of base.backups) if (b.destination.kind === "path") bindSource(b.destination.path);
    // The revision label is informational: a new commit alone must not recreate containers.
    // Placement is part of a Swarm service's revision: moving its tasks is a rollout. Other targets' hashes stay as they were.
    const specHash = revisionHash({ template, extraNetworks: base.extraNetworks, healthCheck: base.healthCheck, ...(base.swarm ? { swarm: base.swarm } : {}) });
    if (revision) template.Labels![LABEL.revision] = revision;
    return { ...base, image, template, specHash, secretNames: env_.secretNames };
  } catch (error) {
    if (!(error instanceof SpecError)) throw error;
    return { ...base, image: { ref: "", pullPolicy: "Never" }, template: {}, specHash: "", secretNames: [], error: error.message };
  }
}

/** Swarm publishes a port on every node's every address (ingress): one bound to a single address cannot be kept so. */
function swarmPortsPublishable(ports: readonly { container: number; host?: number; hostIP?: string }[], where: string): void {
  const bound = ports.find((p) => p.host !== undefined && p.hostIP !== undefined && !["", "0.0.0.0", "::"].includes(p.hostIP));
  if (bound) throw new SpecError(`${where}: port ${bound.host} is bound to ${bound.hostIP}, but a swarm target publishes ports on every node's every address (ingress); expected no hostIP on a swarm target, e.g. {container: ${bound.container}, host: ${bound.host}}, or an internal port without host`);
}

/**
 * Recreate whenever two containers at once would clash: a fixed host port cannot be
 * bound twice, and a named volume the containers write would have two writers (data
 * loss, e.g. a Redis AOF). Asking for rolling anyway is allowed, with a validation warning.
 */
function defaultStrategy(spec: ServiceSpec, ports: { host?: number }[]): DesiredService["strategy"] {
  if (ports.some((p) => p.host !== undefined)) return "recreate";
  if (writableNamedVolumes(spec).length > 0) return "recreate";
  return "rolling";
}

/** `file:line:col` of a resource's manifest document, as messages start with it. */
function locationOf(resource: Service | Environment): string {
  const { file, line, col } = resource.source;
  return `${file}:${line}:${col}`;
}

function imageSource(service: Service, overrideImage: string | undefined, resolvePath: (p: string) => string, policy: HostPathPolicy, where: string): ImageSource {
  const { spec } = service;
  if (overrideImage || spec.image) return { ref: (overrideImage ?? spec.image)!, pullPolicy: spec.imagePullPolicy };
  const build = spec.build!;
  const options = { dockerfile: build.dockerfile, args: build.args, target: build.target };
  const dir = resolvePath(build.context);
  // The real folder is read: a link swapped after the check cannot send another folder.
  const context = readBuildContext(policy.readable(dir, "build context", where), options, where);
  return {
    ref: `berth-build/${spec.project}-${service.metadata.name}:${context.hash.slice(0, 12)}`,
    pullPolicy: "Never",
    build: { dir: context.dir, files: context.files, ...options },
  };
}

/** Services sorted so that each comes after its dependencies (validation guarantees no cycle). */
export function dependencyOrder<S extends { service: string; dependsOn: { service: string }[] }>(services: S[]): S[] {
  const byName = new Map(services.map((s) => [s.service, s]));
  const done = new Set<string>();
  const ordered: S[] = [];
  const visit = (s: S, path: Set<string>) => {
    if (done.has(s.service) || path.has(s.service)) return;
    path.add(s.service);
    for (const d of s.dependsOn) {
      const dependency = byName.get(d.service);
      if (dependency) visit(dependency, path);
    }
    done.add(s.service);
    ordered.push(s);
  };
  for (const s of services) visit(s, new Set());
  return ordered;
}

/** Every secret value the model puts into containers, so that sinks can mask them. */
export function secretValuesOf(model: DesiredModel): Set<string> {
  const values = new Set<string>();
  for (const service of model.services.values()) {
    const secret = new Set(service.secretNames);
    for (const entry of service.template.Env ?? []) {
      const split = entry.indexOf("=");
      if (secret.has(entry.slice(0, split))) values.add(entry.slice(split + 1));
    }
  }
  for (const logins of model.registries?.values() ?? []) for (const login of logins) if (login.password) values.add(login.password);
  return values;
}

/** `compose/shop` -> `shop`: the compose project an Environment takes over. */
function adoptedProject(adopt: string): string {
  return adopt.slice(adopt.indexOf("/") + 1);
}
