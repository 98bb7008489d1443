import { isIP } from "node:net";

/**
 * Host header check against DNS rebinding: a web page whose name is made to
 * resolve to the daemon's address can reach it from a browser on the same host,
 * but the browser then sends that page's name as `Host`. The daemon answers only
 * names it knows: localhost, the name it listens on, and `--allowed-host` names.
 * IP literals are always answered: a rebinding page has a name, not an address,
 * and Prometheus and Kubernetes probes address the daemon by IP.
 */
export interface HostPolicy {
  /** The --listen address, host:port. */
  listen: string;
  /** Names from --allowed-host: `name` (any port) or `name:port` (that port only). */
  allowedHosts: readonly string[];
}

interface HostPort {
  name: string;
  port?: string;
}

/** Splits a Host header (or an --allowed-host value) into a lower-case name and optional port; undefined when malformed. */
export function parseHost(value: string): HostPort | undefined {
  const text = value.trim().toLowerCase();
  let name: string;
  let port: string | undefined;
  if (text.startsWith("[")) {
    const match = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
    if (!match || isIP(match[1]!) !== 6) return undefined;
    [name, port] = [match[1]!, match[2]];
  } else {
    const match = /^([a-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(text);
    if (!match) return undefined;
    [name, port] = [match[1]!, match[2]];
  }
  // `localhost.` is `localhost`: a trailing dot only makes a name fully qualified.
  if (name.length > 1 && name.endsWith(".")) name = name.slice(0, -1);
  if (!name) return undefined;
  return { name, port };
}

const LOOPBACK_NAMES = new Set(["localhost"]);

/** Whether the daemon answers a request carrying this Host header. */
export function hostAllowed(header: string | undefined, policy: HostPolicy): boolean {
  // No Host at all: an HTTP/1.0 tool, never a browser (which is what rebinding needs).
  if (header === undefined) return true;
  const host = parseHost(header);
  if (!host) return false;
  if (isIP(host.name) || LOOPBACK_NAMES.has(host.name)) return true;
  const listenHost = listenName(policy.listen);
  if (listenHost && host.name === listenHost) return true;
  return policy.allowedHosts.some((entry) => {
    const allowed = parseHost(entry);
    return allowed !== undefined && allowed.name === host.name && (allowed.port === undefined || allowed.port === host.port);
  });
}

/** The host part of --listen as a Host header would name it, lower case. */
function listenName(listen: string): string | undefined {
  const match = /^(.*):(\d+)$/.exec(listen);
  const host = match?.[1]?.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return host || undefined;
}

/** Checks an --allowed-host value; returns it, or throws saying what is expected. */
export function parseAllowedHost(value: string, previous: string[] = []): string[] {
  if (!parseHost(value) || value.trim() !== value) {
    throw new Error(`--allowed-host "${value}" is not a host name; expected a name as clients write it in URLs, optionally with a port, e.g. --allowed-host berth.internal or --allowed-host berth.internal:9464`);
  }
  return [...previous, value];
}

/** The JSON error a refused request gets. */
export function hostRefusal(header: string): { error: string } {
  const host = parseHost(header);
  const example = host && !isIP(host.name) ? host.name : "berth.internal";
  return {
    error: `Host "${header}" is not a name this daemon answers to (a guard against DNS rebinding); expected localhost, an IP address, the --listen address, or a name the daemon was started with, e.g. berth run --allowed-host ${example}`,
  };
}
