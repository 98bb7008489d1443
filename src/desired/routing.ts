import type { ServiceSpec } from "../manifests/types.ts";

/** Where a routed service is published: the domain and TLS come from its Environment, else its target. */
export interface RoutingContext {
  project: string;
  environment: string;
  service: string;
  network: string;
  domain?: string;
  tls: boolean;
}

/**
 * Traefik's Docker-provider labels for a Service with `routing`: a router for
 * Host(`<service>.<domain>`) (or routing.host), the container port to forward
 * to, the network to reach it on, and TLS when the target serves it. No
 * labels when the service has no routing, or neither a host nor a domain.
 */
export function routingLabels(routing: ServiceSpec["routing"], context: RoutingContext): Record<string, string> {
  if (!routing) return {};
  const host = routing.host ?? (context.domain ? `${context.service}.${context.domain}` : undefined);
  if (!host) return {};
  const router = `${context.project}-${context.environment}-${context.service}`.replace(/[^A-Za-z0-9-]/g, "-");
  const path = routing.path && routing.path !== "/" ? ` && PathPrefix(\`${routing.path}\`)` : "";
  return {
    "traefik.enable": "true",
    "traefik.docker.network": context.network,
    [`traefik.http.routers.${router}.rule`]: `Host(\`${host}\`)${path}`,
    [`traefik.http.routers.${router}.service`]: router,
    ...(context.tls ? { [`traefik.http.routers.${router}.tls`]: "true" } : {}),
    [`traefik.http.services.${router}.loadbalancer.server.port`]: String(routing.port),
  };
}
