import type { DesiredEnvironment, DesiredService } from "../desired/model.ts";
import { canonicalJson } from "../desired/hash.ts";

export type Severity = "error" | "warning" | "info";

/** One field that differs between the two environments' effective specs. */
export interface FieldDifference {
  path: string;
  a: string;
  b: string;
  severity: Severity;
}

export type ServiceStatus = "identical" | "different" | "missing in A" | "missing in B";

export interface ServiceParity {
  service: string;
  status: ServiceStatus;
  /** The worst severity among its differences. */
  severity?: Severity;
  differences: FieldDifference[];
}

export interface ParityReport {
  project: string;
  a: string;
  b: string;
  services: ServiceParity[];
  summary: Record<ServiceStatus, number> & Record<Severity, number>;
  identical: boolean;
}

const MASK = "***";
const UNSET = "(unset)";
const RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

interface Field {
  value: string;
  severity: Severity;
  /** Compared by value, shown masked. */
  secret?: boolean;
}

/** Text of a value for a report; objects as canonical JSON. */
const show = (value: unknown): string => (value === undefined || value === null ? UNSET : typeof value === "string" ? value : canonicalJson(value));

/**
 * The comparable fields of a service's effective spec, with the severity a
 * difference in each carries: the image is what ships (error); size and
 * shape are warnings; env values and routing are expected to differ (info).
 */
function fieldsOf(s: DesiredService): Map<string, Field> {
  const host = s.template.HostConfig ?? {};
  const fields = new Map<string, Field>([
    ["image", { value: s.image.ref, severity: "error" }],
    ["replicas", { value: String(s.replicas), severity: "warning" }],
    ["resources", { value: show({ memory: host.Memory, memoryReservation: host.MemoryReservation, nanoCpus: host.NanoCpus, cpuShares: host.CpuShares }), severity: "warning" }],
    ["ports", { value: portsOf(s), severity: "warning" }],
    ["command", { value: show({ entrypoint: s.template.Entrypoint, cmd: s.template.Cmd }), severity: "warning" }],
    ["healthCheck", { value: show(s.healthCheck), severity: "warning" }],
    ["restartPolicy", { value: s.restartPolicy, severity: "warning" }],
    ["update", { value: show({ strategy: s.strategy, maxSurge: s.maxSurge, maxUnavailable: s.maxUnavailable, healthTimeout: s.healthTimeout, autoRollback: s.autoRollback }), severity: "info" }],
  ]);
  const labels = Object.entries(s.template.Labels ?? {});
  const rule = labels.find(([k]) => k.startsWith("traefik.http.routers.") && k.endsWith(".rule"))?.[1];
  const tls = labels.some(([k, v]) => k.startsWith("traefik.http.routers.") && k.endsWith(".tls") && v === "true");
  fields.set("routing", { value: rule ? `${rule}${tls ? " (tls)" : ""}` : UNSET, severity: "info" });
  const secret = new Set(s.secretNames);
  for (const entry of s.template.Env ?? []) {
    const at = entry.indexOf("=");
    const name = at < 0 ? entry : entry.slice(0, at);
    fields.set(`env.${name}`, { value: at < 0 ? "" : entry.slice(at + 1), severity: "info", secret: secret.has(name) });
  }
  return fields;
}

/** Ports as `docker ps` shows them: `127.0.0.1:8088->8080/tcp` when published, `8080/tcp` when only exposed. */
function portsOf(s: DesiredService): string {
  const bindings = s.template.HostConfig?.PortBindings as Record<string, { HostIp?: string; HostPort?: string }[]> | undefined;
  const ports = Object.keys(s.template.ExposedPorts ?? {}).flatMap((port) => {
    const published = bindings?.[port] ?? [];
    return published.length ? published.map((b) => `${b.HostIp ? `${b.HostIp}:` : ""}${b.HostPort}->${port}`) : [port];
  });
  return ports.sort().join(", ") || UNSET;
}

function compareServices(a: DesiredService, b: DesiredService): FieldDifference[] {
  const fa = fieldsOf(a);
  const fb = fieldsOf(b);
  const differences: FieldDifference[] = [];
  for (const path of [...new Set([...fa.keys(), ...fb.keys()])]) {
    const x = fa.get(path);
    const y = fb.get(path);
    if (x?.value === y?.value) continue;
    const secret = x?.secret || y?.secret;
    const masked = (f: Field | undefined) => (f === undefined ? UNSET : secret ? MASK : f.value);
    differences.push({ path, a: masked(x), b: masked(y), severity: (x ?? y)!.severity });
  }
  return differences;
}

function worst(differences: readonly FieldDifference[]): Severity | undefined {
  return differences.reduce<Severity | undefined>((w, d) => (w === undefined || RANK[d.severity] > RANK[w] ? d.severity : w), undefined);
}

/** Compares the effective specs of two environments service by service; pure. */
export function compareEnvironments(a: DesiredEnvironment, b: DesiredEnvironment): ParityReport {
  const inA = new Map(a.services.map((s) => [s.service, s]));
  const inB = new Map(b.services.map((s) => [s.service, s]));
  const names = [...new Set([...inA.keys(), ...inB.keys()])].sort();
  const services = names.map((service): ServiceParity => {
    const x = inA.get(service);
    const y = inB.get(service);
    if (!x) return { service, status: "missing in A", severity: "error", differences: [] };
    if (!y) return { service, status: "missing in B", severity: "error", differences: [] };
    const differences = compareServices(x, y);
    return { service, status: differences.length ? "different" : "identical", severity: worst(differences), differences };
  });
  const summary = { identical: 0, different: 0, "missing in A": 0, "missing in B": 0, error: 0, warning: 0, info: 0 };
  for (const s of services) {
    summary[s.status]++;
    if (s.status.startsWith("missing")) summary.error++;
    for (const d of s.differences) summary[d.severity]++;
  }
  return { project: a.project, a: a.environment, b: b.environment, services, summary, identical: services.every((s) => s.status === "identical") };
}
