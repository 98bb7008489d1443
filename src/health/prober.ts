import { request } from "node:http";
import type { Duplex } from "node:stream";
import type { ContainerHealth, ObservedContainer } from "../docker/observe.ts";
import { directDialer, type Dialer } from "../docker/dial.ts";
import type { HealthCheck } from "../manifests/types.ts";
import { durationMs } from "../desired/units.ts";
import { redactThenTruncate } from "../log/logger.ts";
import { describeCheck } from "./describe.ts";

export { describeCheck };

/** Result of one probe. */
export interface ProbeResult {
  ok: boolean;
  /** HTTP status for http checks. */
  status?: number;
  /** Exit code for exec checks. */
  exitCode?: number;
  /**
   * What the check said. As the prober reports and keeps it: secrets masked,
   * then cut to OUTPUT_MAX characters. probeOnce alone returns it whole and unmasked.
   */
  output: string;
  responseMs: number;
}

/** How much of what a check said is kept, after masking. */
export const OUTPUT_MAX = 300;

/** Masks the secrets in a text (the daemon's redactor). */
export type Redact = (text: string) => string;

/** One HTTP request over an already open stream; the body is read up to 64 KiB. */
function httpOver(stream: Duplex, address: string, port: number, method: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`no answer from ${address}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    const req = request({ method, host: address, port, path, createConnection: () => stream as never, headers: { connection: "close", "user-agent": "berth-health" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < 65_536) body += chunk;
      });
      res.on("end", () => {
        clearTimeout(timer);
        stream.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on("error", reject);
    });
    req.on("error", (error) => {
      clearTimeout(timer);
      stream.destroy();
      reject(error);
    });
    req.end();
  });
}


/**
 * Runs one http or tcp check against an address. The output holds the whole
 * body read (up to 64 KiB), unmasked: whoever shows it masks it, then cuts it.
 */
export async function probeOnce(check: HealthCheck, address: string, dial: Dialer = directDialer): Promise<ProbeResult> {
  const timeoutMs = durationMs(check.timeout);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    if (check.tcp) {
      const socket = await dial(address, check.tcp.port, timeoutMs);
      socket.destroy();
      return { ok: true, output: `connected to port ${check.tcp.port}`, responseMs: elapsed() };
    }
    const http = check.http!;
    const stream = await dial(address, http.port, timeoutMs);
    const response = await httpOver(stream, address, http.port, http.method, http.path, Math.max(1, timeoutMs - elapsed()));
    const statusOk = http.expectStatus !== undefined ? response.status === http.expectStatus : response.status >= 200 && response.status < 400;
    const body = http.method === "HEAD" ? "" : response.body;
    const bodyOk = !http.bodyPattern || new RegExp(http.bodyPattern).test(body);
    const why = !statusOk ? `status ${response.status}${http.expectStatus ? `, expected ${http.expectStatus}` : ""}` : !bodyOk ? `body does not match /${http.bodyPattern}/` : `status ${response.status}`;
    return { ok: statusOk && bodyOk, status: response.status, output: `${why}: ${body}`.trim(), responseMs: elapsed() };
  } catch (error) {
    return { ok: false, output: error instanceof Error ? (error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message) : String(error), responseMs: elapsed() };
  }
}

/** Reads the results Docker recorded for a container's exec HEALTHCHECK, oldest first. */
export type HealthLogReader = (containerId: string) => Promise<{ start: string; exitCode: number; output: string }[]>;

interface Tracked {
  serviceKey: string;
  check: HealthCheck;
  address: string;
  startedAt: number;
  failures: number;
  status: ContainerHealth;
  last?: ProbeResult;
  /** exec checks: Docker runs them; Berth reads each new result from the container's health log. */
  healthLog?: HealthLogReader;
  /** Start times of the health log entries already reported (Docker keeps the last five). */
  seen?: Set<string>;
  /** How to reach the container (through SSH for remote targets); the prober's default otherwise. */
  dial?: Dialer;
  timer?: NodeJS.Timeout;
}

/** One check for every container of a service, or each container's own (by its revision). */
export type CheckOf = HealthCheck | undefined | ((container: ObservedContainer) => HealthCheck | undefined);

/**
 * Keeps probing the running containers of services with http or tcp checks,
 * as Docker does for exec checks: `retries` consecutive failures make a
 * container unhealthy, failures during `startPeriod` do not count. For exec
 * checks it reads each result Docker recorded, so every result is reported.
 */
export class HealthProber {
  private readonly tracked = new Map<string, Tracked>();

  private readonly dial: Dialer;
  private readonly redact: Redact;

  /**
   * `onResult` hears every probe; `changed` says whether the container's health status moved.
   * `redact` masks what each check said before it is cut, kept or reported: a secret crossing
   * the cut would otherwise be kept, and shown, in part.
   */
  constructor(private readonly onResult: (serviceKey: string, containerId: string, status: ContainerHealth, result: ProbeResult, changed: boolean) => void, options: { redact: Redact; dial?: Dialer }) {
    this.dial = options.dial ?? directDialer;
    this.redact = options.redact;
  }

  /** Sets the containers probed for one service; containers no longer listed stop being probed. */
  track(serviceKey: string, check: CheckOf, network: string, containers: readonly ObservedContainer[], healthLog?: HealthLogReader, dial?: Dialer): void {
    // Each revision is judged by its own check: during a rollout old and new containers may differ.
    const checkOf = typeof check === "function" ? check : () => check;
    const probed = (c: ObservedContainer) => {
      const own = checkOf(c);
      return !!own && c.state === "running" && (own.exec ? !!healthLog : !!c.addresses[network]);
    };
    const wanted = new Map(containers.filter(probed).map((c) => [c.id, c]));
    for (const [id, t] of this.tracked) {
      if (t.serviceKey === serviceKey && !wanted.has(id)) this.untrack(id);
    }
    for (const [id, c] of wanted) {
      const own = checkOf(c)!;
      const known = this.tracked.get(id);
      // A restarted container may come back on another address: probe where it is now.
      const address = c.addresses[network] ?? "";
      // A replaced target connection (its spec changed) brings new dial and log readers: probe through those.
      if (known && known.address === address && JSON.stringify(known.check) === JSON.stringify(own) && known.dial === dial && known.healthLog === (own.exec ? healthLog : undefined)) continue;
      if (known) this.untrack(id);
      const entry: Tracked = { serviceKey, check: own, address, startedAt: Date.now(), failures: 0, status: "starting", healthLog: own.exec ? healthLog : undefined, dial };
      this.tracked.set(id, entry);
      this.schedule(id, entry, 0);
    }
  }

  /** Berth's view of a container's health for http/tcp checks; undefined when not probed. */
  status(containerId: string): ContainerHealth | undefined {
    return this.tracked.get(containerId)?.status;
  }

  /** The latest failing result among a service's containers, with the check it came from: why a rollout waits. */
  lastFailure(serviceKey: string): string | undefined {
    for (const entry of this.tracked.values()) {
      // The output is masked and cut already; the check's command may hold a secret too.
      if (entry.serviceKey === serviceKey && entry.last && !entry.last.ok) return this.redact(`health check ${describeCheck(entry.check)} last said: ${entry.last.output}`);
    }
    return undefined;
  }

  /** The latest result of a container's check, to explain a failure. */
  lastResult(containerId: string): ProbeResult | undefined {
    return this.tracked.get(containerId)?.last;
  }


  stop(): void {
    for (const id of [...this.tracked.keys()]) this.untrack(id);
  }

  private untrack(id: string) {
    clearTimeout(this.tracked.get(id)?.timer);
    this.tracked.delete(id);
  }

  private schedule(id: string, entry: Tracked, delayMs: number) {
    entry.timer = setTimeout(async () => {
      const results = entry.healthLog ? await this.readLog(id, entry) : [await probeOnce(entry.check, entry.address, entry.dial ?? this.dial)];
      if (this.tracked.get(id) !== entry) return; // untracked while probing
      // Masked whole, then cut: nothing downstream sees what a check said unmasked.
      for (const result of results) this.apply(id, entry, { ...result, output: redactThenTruncate(this.redact, result.output, OUTPUT_MAX) });
      this.schedule(id, entry, durationMs(entry.status === "starting" ? "1s" : entry.check.interval));
    }, delayMs);
    entry.timer.unref();
  }

  private apply(id: string, entry: Tracked, result: ProbeResult) {
    const before = entry.status;
    const inGrace = Date.now() - entry.startedAt < durationMs(entry.check.startPeriod);
    entry.last = result;
    if (result.ok) {
      entry.failures = 0;
      entry.status = "healthy";
    } else if (!inGrace || before === "healthy") {
      entry.failures++;
      if (entry.failures >= entry.check.retries) entry.status = "unhealthy";
    }
    this.onResult(entry.serviceKey, id, entry.status, result, entry.status !== before);
  }

  /** The exec results Docker recorded since the last read, as Docker kept them (masked and cut by the caller). */
  private async readLog(id: string, entry: Tracked): Promise<ProbeResult[]> {
    try {
      const log = await entry.healthLog!(id);
      // By identity, not by comparing times: Docker writes them in its local zone, which may change offset.
      const fresh = log.filter((r) => !entry.seen?.has(r.start));
      entry.seen = new Set(log.map((r) => r.start));
      return fresh.map((r) => ({ ok: r.exitCode === 0, exitCode: r.exitCode, output: `exit ${r.exitCode}: ${r.output.trim()}`, responseMs: 0 }));
    } catch {
      return []; // the container went away; its service's next reconcile untracks it
    }
  }
}
