import { parseDuration } from "../duration.ts";
import type { ManifestError } from "../errors.ts";
import { declaredNames, problemAt, type Rule } from "./catalog.ts";
import { DEFAULT_BACKUP_VOLUME } from "../types.ts";

/**
 * A check Berth probes (http, tcp) must be allowed to finish before the next
 * one starts. An exec check is Docker's, which starts the next one only after
 * the last finished (as compose files rely on: interval 2s, default timeout 30s).
 */
export const healthIntervalCoversTimeout: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const service of catalog.byKind.Service.values()) {
    const check = service.resource.spec.healthCheck;
    if (!check || check.exec) continue;
    const interval = parseDuration(check.interval);
    const timeout = parseDuration(check.timeout);
    if (interval === undefined || timeout === undefined || interval >= timeout) continue;
    errors.push(
      problemAt(service, ["spec", "healthCheck", "interval"], `health check interval ${check.interval} is shorter than its timeout ${check.timeout}`, {
        expected: "interval >= timeout",
        example: `interval: ${check.timeout}`,
      }),
    );
  }
  return errors;
};

/** A project is deployable only with something to run and somewhere to run it. */
export const projectsAreComplete: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const [name, project] of catalog.byKind.Project) {
    const hasService = declaredNames(catalog, "Service", name).length > 0;
    const hasEnvironment = declaredNames(catalog, "Environment", name).length > 0;
    if (!hasService) {
      errors.push(problemAt(project, ["metadata", "name"], "has no Service", { expected: `at least one Service with project: ${name}`, example: `{kind: Service, metadata: {name: web}, spec: {project: ${name}, image: "nginx:1.27"}}` }));
    }
    if (!hasEnvironment) {
      errors.push(problemAt(project, ["metadata", "name"], "has no Environment", { expected: `at least one Environment with project: ${name}`, example: `{kind: Environment, metadata: {name: development}, spec: {project: ${name}, target: local}}` }));
    }
  }
  return errors;
};

/** The connection block must match the target's type. */
export const targetsMatchTheirType: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const target of catalog.byKind.DeploymentTarget.values()) {
    const { type, ssh, docker } = target.resource.spec;
    if (type === "ssh" && !ssh) {
      errors.push(problemAt(target, ["spec", "type"], `type ssh needs an "ssh" block`, { expected: "ssh: {host, user, hostKey}", example: 'ssh: {host: deploy.example.com, user: deploy, hostKey: "SHA256:…"}' }));
    }
    if (type === "local" && ssh) {
      errors.push(problemAt(target, ["spec", "ssh"], `"ssh" is set but type is local`, { expected: "type: ssh, or no ssh block", example: "type: ssh" }));
    }
    if (type === "swarm" && ssh && docker) {
      errors.push(problemAt(target, ["spec", "docker"], `a swarm target is reached either through a manager's socket ("docker") or over SSH to a manager ("ssh"), not both`, { expected: "one of docker, ssh", example: 'ssh: {host: manager-1.example.com, user: deploy, hostKey: "SHA256:…"}' }));
    }
    if (type === "ssh" && docker) {
      errors.push(problemAt(target, ["spec", "docker"], `"docker" is for local targets; this target has type ssh`, { expected: "ssh.remoteSocket for the remote socket path", example: "ssh: {remoteSocket: /var/run/docker.sock}" }));
    }
  }
  return errors;
};

/** Named volumes and binds need a source, tmpfs has none, and each path is mounted once. */
export const volumesAreWellFormed: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const service of catalog.byKind.Service.values()) {
    const seen = new Set<string>();
    service.resource.spec.volumes?.forEach((volume, i) => {
      const at = ["spec", "volumes", i];
      if (volume.type !== "tmpfs" && !volume.source) {
        const example = volume.type === "bind" ? "source: ./config" : "source: data";
        errors.push(problemAt(service, at, `a ${volume.type} mount needs a "source"`, { expected: volume.type === "bind" ? "a path on the target's host" : "a volume name", example, target: "value" }));
      }
      if (volume.type === "tmpfs" && volume.source) {
        errors.push(problemAt(service, [...at, "source"], `a tmpfs mount takes no "source"`, { expected: "only target (and readOnly)", example: `{type: tmpfs, target: ${volume.target}}`, target: "key" }));
      }
      if (seen.has(volume.target)) {
        errors.push(problemAt(service, [...at, "target"], `${volume.target} is mounted twice`, { expected: "each target path once", example: `target: ${volume.target}-2` }));
      }
      seen.add(volume.target);
    });
  }
  return errors;
};

/**
 * Every name in an Environment's volumeNames is a volume one of its Project's
 * Services mounts: a misspelt key would leave the data in the old volume and
 * give the Service a new, empty one.
 */
export const volumeNamesAreMounted: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  for (const environment of catalog.byKind.Environment.values()) {
    const { project, volumeNames } = environment.resource.spec;
    if (!volumeNames) continue;
    const mounted = new Set<string>();
    for (const service of catalog.byKind.Service.values()) {
      if (service.resource.spec.project !== project) continue;
      for (const v of service.resource.spec.volumes ?? []) {
        if (v.type === "volume" && v.source) mounted.add(v.source);
        // Where its backups go is a volume of the Environment too.
        if (v.backup) mounted.add(v.backup.destination?.volume ?? DEFAULT_BACKUP_VOLUME);
      }
    }
    for (const key of Object.keys(volumeNames)) {
      if (mounted.has(key)) continue;
      const known = [...mounted].sort();
      errors.push(problemAt(environment, ["spec", "volumeNames", key], `volumeNames names volume "${key}", which no Service of Project/${project} mounts`, { expected: known.length ? `one of ${known.join(", ")}` : "a volume a Service mounts (spec.volumes with type volume)", example: `${known[0] ?? "data"}: ${volumeNames[key]}`, target: "key" }));
    }
  }
  return errors;
};
