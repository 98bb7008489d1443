import type { DesiredService } from "../../src/desired/model.ts";
import type { RevisionSpec } from "../../src/desired/revision.ts";
import type { PlanChange } from "../../src/engine/plan-change.ts";
import type { ServiceAction } from "./plan.ts";

/** Where each part of a container spec comes from in a Service manifest. */
const FIELD_OF: Record<string, string> = {
  "image.ref": "spec.image",
  "image.pullPolicy": "spec.imagePullPolicy",
  "template.Image": "spec.image",
  "template.Cmd": "spec.command",
  "template.Entrypoint": "spec.entrypoint",
  "template.WorkingDir": "spec.workingDir",
  "template.User": "spec.user",
  "template.Hostname": "spec.hostname",
  "template.Env": "spec.env",
  "template.Labels": "spec.labels",
  "template.ExposedPorts": "spec.ports",
  "template.Healthcheck": "spec.healthCheck",
  "template.StopTimeout": "spec.stopGracePeriod",
  "template.StopSignal": "spec.stopSignal",
  "template.HostConfig.PortBindings": "spec.ports",
  "template.HostConfig.Mounts": "spec.volumes",
  "template.HostConfig.RestartPolicy": "spec.restartPolicy",
  "template.HostConfig.NanoCpus": "spec.resources",
  "template.HostConfig.Memory": "spec.resources",
  "template.HostConfig.MemoryReservation": "spec.resources",
  "template.HostConfig.CpuShares": "spec.resources",
  "template.NetworkingConfig": "spec.networks",
  extraNetworks: "spec.networks",
  healthCheck: "spec.healthCheck",
  secretNames: "spec.env",
};

const SKIP = new Set(["revision", "image.built", "template.Image"]);

/** The manifest fields that differ between two stored revision specs, e.g. ["spec.env", "spec.image"]. */
export function changedFields(from: RevisionSpec | undefined, to: RevisionSpec): string[] {
  if (!from) return ["spec"];
  const fields = new Set<string>();
  const walk = (a: unknown, b: unknown, path: string) => {
    if (SKIP.has(path)) return;
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    const mapped = FIELD_OF[path];
    if (mapped) return void fields.add(mapped);
    if (isObject(a) && isObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) walk(a[key], b[key], path ? `${path}.${key}` : key);
      return;
    }
    fields.add(path.startsWith("template.") ? `spec.${path.split(".").at(-1)!}` : `spec.${path}`);
  };
  walk(from, to, "");
  // Same spec with secret values masked, different hash: only a secret's value changed.
  return fields.size ? [...fields].sort() : ["spec.env (a secret's value)"];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** "rolling update, 2 replicas, maxSurge 1, maxUnavailable 0" or "recreate, 1 replica". */
export function describeStrategy(service: Pick<DesiredService, "strategy" | "replicas" | "maxSurge" | "maxUnavailable">): string {
  const replicas = `${service.replicas} replica${service.replicas === 1 ? "" : "s"}`;
  return service.strategy === "rolling" ? `rolling update, ${replicas}, maxSurge ${service.maxSurge}, maxUnavailable ${service.maxUnavailable}` : `recreate, ${replicas}`;
}

/** What a steady-state pass's actions mean for `plan`: nothing, a start, a scale, a repair. */
export function steadyChange(resource: string, actions: readonly ServiceAction[], running: number, replicas: number): PlanChange | undefined {
  const mutating = actions.filter((a) => a.type !== "probe");
  if (!mutating.length) return undefined;
  const creates = mutating.filter((a) => a.type === "create").length;
  const removes = mutating.filter((a) => a.type === "remove").length;
  const reasons = [...new Set(mutating.map((a) => a.reason))].join("; ");
  const scale = (n: number) => ({ resource, strategy: null, fields: ["spec.replicas"], action: "scale" as const, reason: n > 0 ? `scale up to ${replicas} (${reasons})` : `scale down to ${replicas} (${reasons})` });
  if (creates && !removes && running === 0) return { resource, action: "create", strategy: null, reason: reasons, fields: [] };
  if (creates && !removes && running > 0 && running < replicas) return scale(1);
  if (removes && !creates && mutating.every((a) => a.type === "remove" && a.reason === "scaled down")) return scale(-1);
  if (mutating.every((a) => a.type === "stop")) return { resource, action: "stop", strategy: null, reason: reasons, fields: [] };
  if (mutating.every((a) => a.type === "start")) return { resource, action: "start", strategy: null, reason: reasons, fields: [] };
  return { resource, action: "repair", strategy: null, reason: reasons, fields: [] };
}
