import { Duplex } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ContainerHealth, ObservedContainer } from "../../../src/docker/observe.ts";
import type { Dialer } from "../../../src/docker/dial.ts";
import { HealthProber, type HealthLogReader, type ProbeResult } from "../../../src/health/prober.ts";
import type { HealthCheck } from "../../../src/manifests/types.ts";

// ---------------------------------------------------------------------------
// Helpers: containers as observe() reports them, a health log the test
// appends to as Docker would, and every onResult call kept in order.
// ---------------------------------------------------------------------------

const KEY = "Service/dev/web";
const NETWORK = "shop-dev";

function container(id: string, overrides: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id,
    name: `shop-dev-web-0-${id}`,
    project: "shop",
    environment: "dev",
    service: "web",
    slot: 0,
    specHash: "a".repeat(64),
    state: "running",
    created: 0,
    addresses: { [NETWORK]: "172.18.0.5" },
    published: {},
    networks: [NETWORK],
    volumes: [],
    ...overrides,
  };
}

const execCheck = (overrides: Partial<HealthCheck> = {}): HealthCheck => ({ exec: { command: ["pg_isready"] }, interval: "5s", timeout: "1s", retries: 3, startPeriod: "0s", ...overrides });

type LogEntry = Awaited<ReturnType<HealthLogReader>>[number];

/** Docker's health log of one container: the test appends results, Docker-like start timestamps increasing. */
function healthLog() {
  const entries: LogEntry[] = [];
  let second = 0;
  const reader = vi.fn<HealthLogReader>(async () => entries.map((e) => ({ ...e })));
  const add = (exitCode: number, output: string) => {
    second++;
    entries.push({ start: `2025-01-01T00:00:${String(second).padStart(2, "0")}.000000001Z`, exitCode, output });
    // Docker keeps the last five results only.
    if (entries.length > 5) entries.shift();
  };
  return { entries, reader, add };
}

interface Heard {
  serviceKey: string;
  containerId: string;
  status: ContainerHealth;
  result: ProbeResult;
  changed: boolean;
}

let heard: Heard[];
let prober: HealthProber;

function newProber(dial?: Dialer) {
  prober = new HealthProber((serviceKey, containerId, status, result, changed) => heard.push({ serviceKey, containerId, status, result, changed }), { dial, redact: (text) => text });
  return prober;
}

beforeEach(() => {
  vi.useFakeTimers();
  heard = [];
});

afterEach(() => {
  prober?.stop();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("HealthProber with exec checks (Docker's health log)", () => {
  it("reports each new log entry exactly once, oldest first", async () => {
    const log = healthLog();
    log.add(0, "accepting connections\n");
    log.add(0, "accepting connections\n");
    newProber().track(KEY, execCheck(), NETWORK, [container("c1")], log.reader);

    await vi.advanceTimersByTimeAsync(0);
    expect(log.reader).toHaveBeenCalledWith("c1");
    expect(heard.map((h) => h.result.output)).toEqual(["exit 0: accepting connections", "exit 0: accepting connections"]);
    expect(heard[0]).toMatchObject({ serviceKey: KEY, containerId: "c1", status: "healthy", changed: true, result: { ok: true, responseMs: 0 } });
    expect(heard[1]).toMatchObject({ status: "healthy", changed: false });

    // Later reads see the same entries: nothing is reported again.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(log.reader.mock.calls.length).toBeGreaterThan(1);
    expect(heard).toHaveLength(2);

    log.add(0, "third");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(heard.map((h) => h.result.output)).toEqual(["exit 0: accepting connections", "exit 0: accepting connections", "exit 0: third"]);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(heard).toHaveLength(3);
  });

  it("reports each entry once, even after older entries roll off", async () => {
    const log = healthLog();
    for (let i = 1; i <= 5; i++) log.add(0, `run ${i}`);
    newProber().track(KEY, execCheck(), NETWORK, [container("c1")], log.reader);
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toHaveLength(5);

    // Two new results push two old ones out of Docker's five-entry log.
    log.add(0, "run 6");
    log.add(1, "run 7");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(heard.slice(5).map((h) => h.result.output)).toEqual(["exit 0: run 6", "exit 1: run 7"]);

    // An entry already reported is never reported again, however the log is read.
    await vi.advanceTimersByTimeAsync(30_000);
    expect(heard).toHaveLength(7);
  });

  it("orders entries by time, not by text, when the daemon's clock changes its UTC offset (DST ends)", async () => {
    // Docker writes `start` in the daemon's local zone with trailing zeros trimmed: after the clocks go back,
    // a newer result sorts before the last one seen as text.
    const entries: LogEntry[] = [{ start: "2025-10-26T02:59:58.1+02:00", exitCode: 0, output: "before the change" }];
    const reader = vi.fn<HealthLogReader>(async () => entries.map((e) => ({ ...e })));
    newProber().track(KEY, execCheck(), NETWORK, [container("c1")], reader);
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toHaveLength(1);

    entries.push({ start: "2025-10-26T02:00:03.1+01:00", exitCode: 1, output: "five seconds later" }); // 01:00:03.1Z, after 00:59:58.1Z
    await vi.advanceTimersByTimeAsync(5_000);
    expect(heard.map((h) => h.result.output)).toEqual(["exit 0: before the change", "exit 1: five seconds later"]);
  });

  it("turns unhealthy after `retries` consecutive failures, and lastResult gives the latest output", async () => {
    const log = healthLog();
    newProber().track(KEY, execCheck({ retries: 3 }), NETWORK, [container("c1")], log.reader);
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toEqual([]);
    expect(prober.status("c1")).toBe("starting");
    expect(prober.lastResult("c1")).toBeUndefined();

    log.add(1, "no response 1");
    await vi.advanceTimersByTimeAsync(1_000);
    log.add(1, "no response 2");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(heard.map((h) => [h.status, h.changed])).toEqual([
      ["starting", false],
      ["starting", false],
    ]);
    expect(prober.status("c1")).toBe("starting");

    log.add(1, "no response 3\n");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(heard.map((h) => [h.status, h.changed])).toEqual([
      ["starting", false],
      ["starting", false],
      ["unhealthy", true],
    ]);
    expect(heard[2]!.result).toEqual({ ok: false, exitCode: 1, output: "exit 1: no response 3", responseMs: 0 });
    expect(prober.status("c1")).toBe("unhealthy");
    expect(prober.lastResult("c1")).toEqual({ ok: false, exitCode: 1, output: "exit 1: no response 3", responseMs: 0 });
  });

  it("counts only consecutive failures: a success in between starts over", async () => {
    const log = healthLog();
    newProber().track(KEY, execCheck({ retries: 2 }), NETWORK, [container("c1")], log.reader);
    log.add(0, "ok");
    await vi.advanceTimersByTimeAsync(0);
    expect(prober.status("c1")).toBe("healthy");

    log.add(1, "fail");
    log.add(0, "ok again");
    log.add(1, "fail");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(heard.map((h) => h.status)).toEqual(["healthy", "healthy", "healthy", "healthy"]);
    expect(prober.status("c1")).toBe("healthy");

    log.add(1, "fail again");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(heard[heard.length - 1]).toMatchObject({ status: "unhealthy", changed: true });
    expect(prober.lastResult("c1")?.output).toBe("exit 1: fail again");
  });

  it("does not count failures during startPeriod, and counts them once it is over", async () => {
    const log = healthLog();
    newProber().track(KEY, execCheck({ retries: 2, startPeriod: "10s" }), NETWORK, [container("c1")], log.reader);
    for (let i = 0; i < 5; i++) {
      log.add(1, `warming up ${i}`);
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(heard).toHaveLength(5);
    expect(heard.every((h) => h.status === "starting" && !h.changed)).toBe(true);
    expect(prober.status("c1")).toBe("starting");

    await vi.advanceTimersByTimeAsync(6_000); // past the 10s start period
    log.add(1, "still down 1");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(prober.status("c1")).toBe("starting");
    log.add(1, "still down 2");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(prober.status("c1")).toBe("unhealthy");
    expect(prober.lastResult("c1")?.output).toBe("exit 1: still down 2");
  });

  it("keeps polling when the log cannot be read, and reports nothing for that read", async () => {
    const log = healthLog();
    log.reader.mockRejectedValueOnce(new Error("no such container"));
    newProber().track(KEY, execCheck(), NETWORK, [container("c1")], log.reader);
    log.add(0, "ok");
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(heard.map((h) => h.result.output)).toEqual(["exit 0: ok"]);
  });

  it("does not probe an exec check without a log reader, nor a container that is not running", async () => {
    const log = healthLog();
    newProber().track(KEY, execCheck(), NETWORK, [container("c1")]);
    prober.track("Service/dev/db", execCheck(), NETWORK, [container("c2", { state: "exited" })], log.reader);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(prober.status("c1")).toBeUndefined();
    expect(prober.status("c2")).toBeUndefined();
    expect(log.reader).not.toHaveBeenCalled();
  });
});

describe("HealthProber with http and tcp checks", () => {
  it("dials tcp checks itself and never reads the health log", async () => {
    const log = healthLog();
    log.add(1, "must not be read");
    const close = vi.fn();
    const dial = vi.fn<Dialer>(async () => ({ destroy: close }) as unknown as Duplex);
    newProber(dial).track(KEY, { tcp: { port: 5432 }, interval: "5s", timeout: "2s", retries: 3, startPeriod: "0s" }, NETWORK, [container("c1")], log.reader);
    await vi.advanceTimersByTimeAsync(0);
    expect(dial).toHaveBeenCalledWith("172.18.0.5", 5432, 2_000);
    expect(close).toHaveBeenCalledOnce();
    expect(heard).toEqual([expect.objectContaining({ containerId: "c1", status: "healthy", changed: true, result: expect.objectContaining({ ok: true, output: "connected to port 5432" }) })]);

    await vi.advanceTimersByTimeAsync(10_000);
    expect(dial).toHaveBeenCalledTimes(3);
    expect(log.reader).not.toHaveBeenCalled();
  });

  it("turns a tcp check unhealthy after `retries` refused connections", async () => {
    const dial = vi.fn<Dialer>(async () => Promise.reject(new Error("connect ECONNREFUSED 172.18.0.5:5432")));
    newProber(dial).track(KEY, { tcp: { port: 5432 }, interval: "5s", timeout: "2s", retries: 2, startPeriod: "0s" }, NETWORK, [container("c1")]);
    await vi.advanceTimersByTimeAsync(0);
    expect(prober.status("c1")).toBe("starting");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(prober.status("c1")).toBe("unhealthy");
    expect(prober.lastResult("c1")).toMatchObject({ ok: false, output: "connect ECONNREFUSED 172.18.0.5:5432" });
  });

  it("makes http checks itself, over the dialed stream, and never reads the health log", async () => {
    const log = healthLog();
    let request = "";
    // A stream that answers any request with a canned HTTP response, as a container would.
    const dial = vi.fn<Dialer>(async () => {
      const stream = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, done) {
          request += chunk.toString("utf8");
          if (request.includes("\r\n\r\n")) stream.push("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
          done();
        },
      });
      return stream;
    });
    newProber(dial).track(KEY, { http: { method: "GET", path: "/healthz", port: 8080 }, interval: "5s", timeout: "2s", retries: 3, startPeriod: "0s" }, NETWORK, [container("c1")], log.reader);
    await vi.advanceTimersByTimeAsync(0);
    await vi.waitFor(() => expect(heard).toHaveLength(1));
    expect(dial).toHaveBeenCalledWith("172.18.0.5", 8080, 2000);
    expect(request).toMatch(/^GET \/healthz HTTP\/1.1\r\n/);
    expect(prober.status("c1")).toBe("healthy");
    expect(heard[0]!.result).toMatchObject({ ok: true, status: 200, output: "status 200: ok" });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(log.reader).not.toHaveBeenCalled();
  });

  it("does not probe a container without an address on the service's network", async () => {
    const dial = vi.fn<Dialer>(async () => ({ destroy() {} }) as unknown as Duplex);
    newProber(dial).track(KEY, { tcp: { port: 5432 }, interval: "5s", timeout: "2s", retries: 3, startPeriod: "0s" }, NETWORK, [container("c1", { addresses: { bridge: "172.17.0.2" } })]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(dial).not.toHaveBeenCalled();
    expect(prober.status("c1")).toBeUndefined();
  });
});

describe("HealthProber tracking", () => {
  it("stops probing containers no longer listed, and forgets their status", async () => {
    const log = healthLog();
    log.add(0, "ok");
    newProber().track(KEY, execCheck(), NETWORK, [container("c1"), container("c2")], log.reader);
    await vi.advanceTimersByTimeAsync(0);
    expect(log.reader.mock.calls.map(([id]) => id).sort()).toEqual(["c1", "c2"]);

    prober.track(KEY, execCheck(), NETWORK, [container("c2")], log.reader);
    log.reader.mockClear();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(new Set(log.reader.mock.calls.map(([id]) => id))).toEqual(new Set(["c2"]));
    expect(prober.status("c1")).toBeUndefined();
    expect(prober.lastResult("c1")).toBeUndefined();
    expect(prober.status("c2")).toBe("healthy");
  });

  it("stops probing every container of a service whose check is removed, leaving other services alone", async () => {
    const dial = vi.fn<Dialer>(async () => ({ destroy() {} }) as unknown as Duplex);
    const tcp: HealthCheck = { tcp: { port: 80 }, interval: "5s", timeout: "1s", retries: 3, startPeriod: "0s" };
    newProber(dial).track(KEY, tcp, NETWORK, [container("c1")]);
    prober.track("Service/dev/db", tcp, NETWORK, [container("d1", { addresses: { [NETWORK]: "172.18.0.9" } })]);
    await vi.advanceTimersByTimeAsync(0);
    prober.track(KEY, undefined, NETWORK, [container("c1")]);
    dial.mockClear();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(new Set(dial.mock.calls.map(([host]) => host))).toEqual(new Set(["172.18.0.9"]));
    expect(prober.status("c1")).toBeUndefined();
    expect(prober.status("d1")).toBe("healthy");
  });

  it("drops the result of a read that was in flight when the container was untracked", async () => {
    let release!: (entries: LogEntry[]) => void;
    const reader = vi.fn<HealthLogReader>(() => new Promise((resolve) => (release = resolve)));
    newProber().track(KEY, execCheck(), NETWORK, [container("c1")], reader);
    await vi.advanceTimersByTimeAsync(0);
    expect(reader).toHaveBeenCalledOnce();
    prober.track(KEY, execCheck(), NETWORK, [], reader);
    release([{ start: "2025-01-01T00:00:01Z", exitCode: 0, output: "late" }]);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(heard).toEqual([]);
    expect(reader).toHaveBeenCalledOnce();
  });

  it("keeps a container's history when the same check is tracked again, and starts over when the check changes", async () => {
    const log = healthLog();
    log.add(0, "ok");
    newProber().track(KEY, execCheck(), NETWORK, [container("c1")], log.reader);
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toHaveLength(1);

    prober.track(KEY, execCheck(), NETWORK, [container("c1")], log.reader);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(heard).toHaveLength(1); // same check: the log entry seen is not reported again

    prober.track(KEY, execCheck({ retries: 5 }), NETWORK, [container("c1")], log.reader);
    expect(prober.status("c1")).toBe("starting");
  });

  it("stop() ends every probe", async () => {
    const log = healthLog();
    newProber().track(KEY, execCheck(), NETWORK, [container("c1")], log.reader);
    await vi.advanceTimersByTimeAsync(0);
    prober.stop();
    log.reader.mockClear();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.reader).not.toHaveBeenCalled();
    expect(prober.status("c1")).toBeUndefined();
  });
});
