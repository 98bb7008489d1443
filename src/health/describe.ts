import type { HealthCheck } from "../manifests/types.ts";

/** A check as operators write it, e.g. `http GET :8080/healthz`. */
export function describeCheck(check: HealthCheck): string {
  if (check.http) return `http ${check.http.method} :${check.http.port}${check.http.path}`;
  if (check.tcp) return `tcp :${check.tcp.port}`;
  return `exec ${check.exec!.command.join(" ")}`;
}
