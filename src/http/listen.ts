import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");
LOOPBACK.addSubnet("::ffff:127.0.0.0", 104, "ipv6");

/** Whether an address or name is reachable only from this host: 127.0.0.0/8, ::1, or a name resolving only to those. */
export async function isLoopbackHost(host: string): Promise<boolean> {
  const family = isIP(host);
  if (family) return LOOPBACK.check(host, family === 6 ? "ipv6" : "ipv4");
  if (host.toLowerCase() === "localhost") return true;
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.length > 0 && addresses.every((a) => LOOPBACK.check(a.address, a.family === 6 ? "ipv6" : "ipv4"));
  } catch {
    // A name that does not resolve cannot be listened on either; the listen error says so.
    return false;
  }
}

/**
 * Why `berth run` will not listen on this address, or undefined when it may:
 * beyond loopback only with an API token, or when the operator says so.
 */
export async function listenRefusal(listen: string, options: { token: boolean; insecure: boolean }): Promise<string | undefined> {
  if (options.token || options.insecure) return undefined;
  const { host } = parseListen(listen);
  if (await isLoopbackHost(host)) return undefined;
  return (
    `refusing to listen on ${listen}: that address is reachable from other hosts, and without an API token nothing there is authenticated; ` +
    `expected --api-token-file <file> (or BERTH_API_TOKEN) holding a long random token, e.g. openssl rand -hex 32 > token && chmod 600 token, so that rollbacks and retries need it; ` +
    `or a loopback address, e.g. --listen 127.0.0.1:9464; or --insecure-listen when a firewall or a published port bound to loopback already limits who reaches it ` +
    `(reads of /api/v1 and /metrics need no token either way; see docs/security.md)`
  );
}

/** Default address of the daemon's HTTP server: loopback only. */
export const DEFAULT_LISTEN = "127.0.0.1:9464";

/** Parses host:port, [ipv6]:port or :port (loopback) into listen arguments. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(listen);
  if (!match) throw new Error(`invalid listen address "${listen}"; expected host:port, e.g. 127.0.0.1:9464`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1", port: Number(match[2]) };
}
