/**
 * Compose field values in the forms `docker compose config` prints them
 * (short strings or long mappings), read into Berth's shapes. Pure. A value
 * Berth has no equivalent for comes back as `unmapped` with the reason.
 */
import { parseDuration } from "../manifests/duration.ts";
import type { HealthCheck, PortMapping, VolumeMount } from "../manifests/types.ts";

export interface Unmapped {
  field: string;
  why: string;
}

type Mapping = Record<string, unknown>;

const isMapping = (value: unknown): value is Mapping => typeof value === "object" && value !== null && !Array.isArray(value);

/** `[ip:][host:]container[/protocol]` or `{target, published, host_ip, protocol}`; ranges are not mapped. */
export function portOf(entry: unknown): PortMapping | Unmapped {
  if (isMapping(entry)) {
    const container = Number(entry.target);
    const published = entry.published === undefined || entry.published === "" ? undefined : Number(entry.published);
    const protocol = String(entry.protocol ?? "tcp");
    if (!Number.isInteger(container) || (published !== undefined && !Number.isInteger(published))) return { field: "ports", why: `port ${JSON.stringify(entry)} is a range or not a number; Berth publishes single ports` };
    if (protocol !== "tcp" && protocol !== "udp") return { field: "ports", why: `protocol ${protocol} is not tcp or udp` };
    return { container, ...(published !== undefined ? { host: published } : {}), protocol, hostIP: String(entry.host_ip ?? "0.0.0.0") };
  }
  const text = String(entry);
  const match = /^(?:(?:\[([0-9a-fA-F:]+)\]|([0-9]+(?:\.[0-9]+){3})):)?(?:([0-9]*):)?([0-9]+)(?:\/(tcp|udp))?$/.exec(text);
  if (!match) return { field: "ports", why: `port "${text}" is a range or not in the form [ip:][host:]container[/protocol]; Berth publishes single ports` };
  const [, ip6, ip4, host, container, protocol] = match;
  return { container: Number(container), ...(host ? { host: Number(host) } : {}), protocol: (protocol ?? "tcp") as "tcp" | "udp", hostIP: ip6 ?? ip4 ?? "0.0.0.0" };
}

/**
 * A service volume: `source:target[:mode]`, a bare `target` (anonymous), or
 * the long form. `named` tells whether a source is a top-level volume (else
 * it is a host path). Anonymous volumes have no name to keep data under: unmapped.
 */
export function volumeOf(entry: unknown, named: (source: string) => boolean): VolumeMount | Unmapped {
  if (isMapping(entry)) {
    const type = String(entry.type ?? "volume");
    const target = String(entry.target ?? "");
    const readOnly = entry.read_only === true;
    if (type === "tmpfs") return { type: "tmpfs", target, readOnly: false };
    if (type !== "volume" && type !== "bind") return { field: "volumes", why: `mount type ${type} (${target}) has no Berth equivalent` };
    if (entry.source === undefined || entry.source === "") return { field: "volumes", why: `anonymous volume at ${target}: its data has no name to be kept under; expected a named volume` };
    return { type: type as "volume" | "bind", source: String(entry.source), target, readOnly };
  }
  const parts = String(entry).split(":");
  if (parts.length === 1) return { field: "volumes", why: `anonymous volume at ${parts[0]}: its data has no name to be kept under; expected a named volume` };
  // A Windows drive letter is not expected on a Docker host Berth drives; the last part may be a mode.
  const modes = new Set(["ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy"]);
  const mode = parts.length > 2 && parts.at(-1)!.split(",").every((m) => modes.has(m)) ? parts.pop()! : "";
  const target = parts.pop()!;
  const source = parts.join(":");
  const readOnly = mode.split(",").includes("ro");
  return named(source) ? { type: "volume", source, target, readOnly } : { type: "bind", source, target, readOnly };
}

/** Compose durations (`1m30s`, `10s`, `500ms`) are Berth's; a bare number is seconds in compose files written by hand. */
export function durationOf(value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const text = String(value).trim();
  if (/^[0-9]+(\.[0-9]+)?$/.test(text)) return `${text}s`;
  return parseDuration(text) === undefined ? undefined : text;
}

/** `healthcheck`: CMD / CMD-SHELL / a string (run by the shell) become an exec check; NONE and disable none. */
export function healthOf(check: unknown): { check?: HealthCheck; unmapped: Unmapped[] } {
  if (!isMapping(check) || check.disable === true) return { unmapped: [] };
  const test = check.test;
  let command: string[] | undefined;
  if (typeof test === "string") command = ["sh", "-c", test];
  else if (Array.isArray(test) && test[0] === "CMD") command = test.slice(1).map(String);
  else if (Array.isArray(test) && test[0] === "CMD-SHELL") command = ["sh", "-c", test.slice(1).map(String).join(" ")];
  else if (Array.isArray(test) && test[0] === "NONE") return { unmapped: [] };
  if (!command) return { unmapped: [{ field: "healthcheck.test", why: `test ${JSON.stringify(test)} is not CMD, CMD-SHELL or NONE` }] };
  const unmapped: Unmapped[] = [];
  // Compose's (Docker's) defaults where the file says nothing.
  const duration = (key: string, fallback: string) => {
    const value = durationOf(check[key]);
    if (check[key] !== undefined && value === undefined) unmapped.push({ field: `healthcheck.${key}`, why: `duration ${JSON.stringify(check[key])} is not in the form 10s, 1m30s or 500ms; ${fallback} used` });
    return value ?? fallback;
  };
  if (check.start_interval !== undefined) unmapped.push({ field: "healthcheck.start_interval", why: "Berth checks at interval from the start" });
  return {
    check: { exec: { command }, interval: duration("interval", "30s"), timeout: duration("timeout", "30s"), retries: check.retries === undefined ? 3 : Number(check.retries), startPeriod: duration("start_period", "0s") },
    unmapped,
  };
}

/** Compose sizes (`256M`, `1g`, `512mb`, bytes) in Berth's form. */
export function memoryOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*([bkmg]?)b?$/i.exec(text);
  if (!match) return undefined;
  return match[2] === "" || match[2]!.toLowerCase() === "b" ? match[1]! : `${match[1]}${match[2]!.toLowerCase()}`;
}

/** `restart`: on-failure:N keeps on-failure (the retry count is reported). */
export function restartOf(value: unknown): { policy?: "no" | "always" | "on-failure" | "unless-stopped"; unmapped?: Unmapped } {
  if (value === undefined) return {};
  const text = String(value);
  if (text === "no" || text === "always" || text === "unless-stopped" || text === "on-failure") return { policy: text };
  if (/^on-failure:[0-9]+$/.test(text)) return { policy: "on-failure", unmapped: { field: "restart", why: `${text}: Berth leaves restarts to Docker's on-failure policy without a retry limit` } };
  return { unmapped: { field: "restart", why: `restart policy ${text} is not no, always, on-failure or unless-stopped` } };
}

/** A compose name as a DNS label (Berth's names), e.g. `my_app` -> `my-app`. */
export function dnsLabel(name: string): string {
  const label = name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63);
  return label || "app";
}
