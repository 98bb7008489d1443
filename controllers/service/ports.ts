import type { ObservedContainer } from "../../src/docker/observe.ts";
import type { DesiredService } from "../../src/desired/model.ts";
import { removal, type ServiceAction } from "./plan.ts";

/** Host ports a service publishes, as Docker lists them ("8088/tcp"). */
export function hostPortsOf(service: DesiredService): Set<string> {
  const ports = new Set<string>();
  for (const [containerPort, bindings] of Object.entries(service.template.HostConfig?.PortBindings ?? {})) {
    const protocol = containerPort.split("/")[1] ?? "tcp";
    for (const b of bindings as { HostPort?: string }[]) if (b.HostPort) ports.add(`${b.HostPort}/${protocol}`);
  }
  return ports;
}

/**
 * Host port handover: a container of a service no manifest declares any more
 * (renamed, moved) that holds a host port this service needs goes first, in
 * this pass, rather than when its environment prunes it later.
 */
export function freeHostPorts(service: DesiredService, holders: readonly ObservedContainer[], declared: ReadonlySet<string>): ServiceAction[] {
  const wanted = hostPortsOf(service);
  if (!wanted.size) return [];
  const actions: ServiceAction[] = [];
  for (const c of holders) {
    if (c.environment === service.environment && c.service === service.service) continue;
    if (declared.has(`${c.environment}/${c.service}`)) continue;
    const held = Object.entries(c.published).filter(([port, host]) => wanted.has(`${host}/${port.split("/")[1]}`));
    if (held.length && c.state !== "exited" && c.state !== "dead" && c.state !== "created") {
      actions.push(removal(c, `frees host port ${held.map(([, host]) => host).join(", ")} for ${service.key}; its service is no longer declared`));
    }
  }
  return actions;
}
