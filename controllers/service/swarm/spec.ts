import type Docker from "dockerode";
import { LABEL } from "../../../src/docker/labels.ts";
import type { DesiredService } from "../../../src/desired/model.ts";
import { durationMs } from "../../../src/desired/units.ts";
import { hashOf } from "../../../src/desired/hash.ts";
import type { HealthCheck } from "../../../src/manifests/types.ts";
import { swarmServiceName } from "./names.ts";
import { SECRET_FILE_PREFIX, withSecretEnv, type SecretInputs } from "./secrets.ts";

const NS_PER_MS = 1_000_000;
const MONITOR_MS = 5_000;

export { swarmServiceName } from "./names.ts";

/**
 * Maps a Service onto a Swarm ServiceSpec: its container template becomes
 * the task's ContainerSpec, its update settings Swarm's UpdateConfig and
 * RollbackConfig, its network the environment's overlay network (the
 * service's name as alias), its placement Swarm's.
 */
export function swarmServiceSpec(service: DesiredService, secretEnv?: SecretInputs): Docker.ServiceSpec {
  const spec = unlabelledSpec(service, secretEnv);
  // The digest of what Berth writes: a service written otherwise (by hand, or by an older Berth) is repaired.
  // Taken before the commit label is added: a new commit alone changes nothing that runs.
  const commit = service.template.Labels?.[LABEL.revision];
  spec.Labels = { ...spec.Labels, [LABEL.swarmSpec]: hashOf(spec), ...(commit ? { [LABEL.revision]: commit } : {}) };
  return spec;
}

function unlabelledSpec(service: DesiredService, secretEnv: SecretInputs | undefined): Docker.ServiceSpec {
  const t = service.template;
  const host = t.HostConfig ?? {};
  const placement = service.swarm ?? { global: false, constraints: [], spread: [] };
  // The commit label stays off the tasks: a new commit alone must not restart them (it is on the service's own labels).
  const { [LABEL.revision]: _commit, ...own } = t.Labels ?? {};
  const labels = { ...own, [LABEL.specHash]: service.specHash };
  const networks = Object.keys(t.NetworkingConfig?.EndpointsConfig ?? {});
  const update = updateConfig(service);
  // Secret env values reach the task as Swarm secrets, never in the spec's Env.
  const hidden = new Set(secretEnv?.secrets.map((s) => s.variable) ?? []);
  return {
    Name: swarmServiceName(service),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: t.Image,
        ...process(t, secretEnv),
        Env: (t.Env ?? []).filter((entry) => !hidden.has(entry.slice(0, entry.indexOf("=")))),
        ...(secretEnv?.secrets.length ? { Secrets: secretEnv.secrets.map(secretReference) } : {}),
        ...(t.WorkingDir ? { Dir: t.WorkingDir } : {}),
        ...(t.User ? { User: t.User } : {}),
        ...(t.Hostname ? { Hostname: t.Hostname } : {}),
        Labels: labels,
        Mounts: (host.Mounts ?? []).map((m) => ({ ...m })) as Docker.MountSettings[],
        ...(service.healthCheck ? { HealthCheck: taskHealthCheck(service.healthCheck) } : {}),
        StopGracePeriod: service.stopGraceSeconds * 1000 * NS_PER_MS,
      },
      Resources: {
        Limits: { ...(host.NanoCpus ? { NanoCPUs: host.NanoCpus } : {}), ...(host.Memory ? { MemoryBytes: host.Memory } : {}) },
        Reservations: { ...(host.MemoryReservation ? { MemoryBytes: host.MemoryReservation } : {}) },
      },
      RestartPolicy: { Condition: restartCondition(service.restartPolicy), Delay: 5_000 * NS_PER_MS },
      Placement: { Constraints: placement.constraints, Preferences: placement.spread.map((label) => ({ Spread: { SpreadDescriptor: label } })) },
      Networks: [...networks, ...service.extraNetworks].map((name) => ({ Target: name, Aliases: [service.service] })),
    },
    Mode: placement.global ? { Global: {} } : { Replicated: { Replicas: service.suspended ? 0 : service.replicas } },
    UpdateConfig: update,
    RollbackConfig: { ...update, FailureAction: "pause" },
    EndpointSpec: { Ports: publishedPorts(host.PortBindings) },
  };
}

/**
 * Berth's update settings in Swarm's words. A rolling update with no
 * unavailability starts the new task first (start-first); one allowing
 * unavailability, or a recreate, stops first. Swarm moves on once a new task
 * runs (healthy, with a check: it holds the task in "starting" until then) and
 * stayed so for the monitor period; a task that fails meanwhile fails the
 * update, and autoRollback makes Swarm roll it back, as Berth does on single hosts.
 */
function updateConfig(service: DesiredService): NonNullable<Docker.ServiceSpec["UpdateConfig"]> {
  const recreate = service.strategy === "recreate";
  return {
    Parallelism: recreate ? 0 : Math.max(1, service.maxSurge, service.maxUnavailable),
    Delay: 0,
    FailureAction: service.autoRollback ? "rollback" : "pause",
    // How long Swarm keeps watching each updated task once it runs (healthy, when it has a check) before the
    // next one: a task that fails within it fails the update. Swarm's own default, or less.
    Monitor: Math.min(durationMs(service.healthTimeout), MONITOR_MS) * NS_PER_MS,
    MaxFailureRatio: 0,
    Order: recreate || service.maxUnavailable > 0 ? "stop-first" : "start-first",
  };
}

function restartCondition(policy: DesiredService["restartPolicy"]): string {
  if (policy === "no") return "none";
  if (policy === "on-failure") return "on-failure";
  return "any";
}

/**
 * Swarm runs health checks inside the task (its tasks are on other nodes, out of
 * Berth's reach). An http or tcp check becomes a command in the container, so the
 * image needs busybox's or GNU wget (http) or nc (tcp); exec checks run as written.
 */
export function taskHealthCheck(check: HealthCheck): Docker.HealthConfig {
  let test: string[];
  if (check.exec) test = ["CMD", ...check.exec.command];
  else if (check.http) test = ["CMD-SHELL", `wget -q -O /dev/null http://127.0.0.1:${check.http.port}${check.http.path} || exit 1`];
  // nc -z where the image's nc has it; busybox's nc has not, and connects, sends a line and waits for the close instead.
  else test = ["CMD-SHELL", `nc -z -w 1 127.0.0.1 ${check.tcp!.port} 2>/dev/null || echo | nc -w 1 127.0.0.1 ${check.tcp!.port} >/dev/null 2>&1 || exit 1`];
  return {
    Test: test,
    Interval: durationMs(check.interval) * NS_PER_MS,
    Timeout: durationMs(check.timeout) * NS_PER_MS,
    Retries: check.retries,
    StartPeriod: durationMs(check.startPeriod) * NS_PER_MS,
  };
}

/** Published ports go through Swarm's routing mesh (ingress): every node answers on them. */
function publishedPorts(bindings: Record<string, { HostIp?: string; HostPort?: string }[]> | undefined): Docker.PortConfig[] {
  return Object.entries(bindings ?? {}).flatMap(([key, hosts]) => {
    const [port, protocol] = key.split("/");
    return hosts.map((h) => ({ Protocol: (protocol ?? "tcp") as "tcp" | "udp", TargetPort: Number(port), PublishedPort: Number(h.HostPort), PublishMode: "ingress" as const }));
  });
}

/** The process a task runs: as the template says, or wrapped to read its secret env values first. */
function process(t: DesiredService["template"], secretEnv: SecretInputs | undefined): { Command?: string[]; Args?: string[] } {
  if (secretEnv?.secrets.length) return withSecretEnv(secretEnv.argv, secretEnv.secrets.map((s) => s.variable));
  return { ...(t.Entrypoint ? { Command: t.Entrypoint as string[] } : {}), ...(t.Cmd ? { Args: t.Cmd as string[] } : {}) };
}

/** A secret mounted read-only at /run/secrets/berth-env.<VARIABLE>, readable by the task's user whoever it is (as its env is). */
function secretReference(secret: SecretInputs["secrets"][number]): NonNullable<Docker.ContainerSpec["Secrets"]>[number] {
  return { SecretID: secret.id, SecretName: secret.name, File: { Name: `${SECRET_FILE_PREFIX}${secret.variable}`, UID: "0", GID: "0", Mode: 0o444 } };
}
