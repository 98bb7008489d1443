import { Duplex } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Dialer } from "../../../src/docker/dial.ts";
import type { ObservedContainer } from "../../../src/docker/observe.ts";
import { HealthProber, type HealthLogReader, type ProbeResult } from "../../../src/health/prober.ts";
import { Redactor } from "../../../src/log/logger.ts";
import type { HealthCheck } from "../../../src/manifests/types.ts";

// What a check said is cut before it is kept (the body to an excerpt, exec output to 300
// characters). A secret crossing that cut must be masked first, or its start is kept and
// shown everywhere the output goes: logs, events, rows, rollout failures.

const KEY = "Service/dev/web";
const NETWORK = "shop-dev";
const SECRET = "S3cr3t-Token-0123456789";

function container(id: string): ObservedContainer {
  return { id, name: `shop-dev-web-0-${id}`, project: "shop", environment: "dev", service: "web", slot: 0, specHash: "a".repeat(64), state: "running", created: 0, addresses: { [NETWORK]: "172.18.0.5" }, published: {}, networks: [NETWORK], volumes: [] };
}

/** Every piece of the secret at least 3 characters long that a cut through it would leave. */
function parts(secret: string): string[] {
  const out: string[] = [];
  for (let n = 3; n < secret.length; n++) out.push(secret.slice(0, n), secret.slice(secret.length - n));
  return out;
}

function expectNoPart(text: string | undefined): void {
  expect(text).toBeDefined();
  for (const part of parts(SECRET)) expect(text).not.toContain(part);
}

/** A stream answering any request with `body`, as a container would. */
function answering(status: number, body: string): Dialer {
  return vi.fn<Dialer>(async () => {
    let request = "";
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        request += chunk.toString("utf8");
        if (request.includes("\r\n\r\n")) stream.push(`HTTP/1.1 ${status} X\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        done();
      },
    });
    return stream;
  });
}

let heard: ProbeResult[];
let prober: HealthProber | undefined;

function newProber(dial?: Dialer): HealthProber {
  const redactor = new Redactor();
  redactor.setSecrets([SECRET]);
  prober = new HealthProber((_key, _id, _status, result) => heard.push(result), { dial, redact: (text) => redactor.redact(text) });
  return prober;
}

beforeEach(() => {
  vi.useFakeTimers();
  heard = [];
});

afterEach(() => {
  prober?.stop();
  prober = undefined;
  vi.useRealTimers();
});

describe("HealthProber masks what a check said before cutting it", () => {
  it.each([1, 5, 12, SECRET.length - 1])("masks a secret crossing the http body excerpt's end (%i characters inside)", async (inside) => {
    // "status 500: " precedes the body; the excerpt ends 200 characters into the body.
    const body = `${"b".repeat(200 - inside)}${SECRET}${"c".repeat(50)}`;
    const http: HealthCheck = { http: { method: "GET", path: "/healthz", port: 8080 }, interval: "5s", timeout: "2s", retries: 1, startPeriod: "0s" };
    newProber(answering(500, body)).track(KEY, http, NETWORK, [container("c1")]);
    await vi.advanceTimersByTimeAsync(0);
    await vi.waitFor(() => expect(heard).toHaveLength(1));
    expect(heard[0]).toMatchObject({ ok: false, status: 500 });
    expect(heard[0]!.output).toMatch(/^status 500: b+\*/);
    expectNoPart(heard[0]!.output);
    expect(heard[0]!.output.length).toBeLessThanOrEqual(300);
    expectNoPart(prober!.lastResult("c1")?.output);
    expectNoPart(prober!.lastFailure(KEY));
  });

  it.each([1, 5, 12, SECRET.length - 1])("masks a secret crossing the exec output's 300-character cut (%i characters inside)", async (inside) => {
    const output = `${"o".repeat(300 - "exit 1: ".length - inside)}${SECRET}${"p".repeat(50)}\n`;
    const reader = vi.fn<HealthLogReader>(async () => [{ start: "2025-01-01T00:00:01Z", exitCode: 1, output }]);
    const exec: HealthCheck = { exec: { command: ["check"] }, interval: "5s", timeout: "1s", retries: 1, startPeriod: "0s" };
    newProber().track(KEY, exec, NETWORK, [container("c1")], reader);
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toHaveLength(1);
    expectNoPart(heard[0]!.output);
    expect(heard[0]!.output.length).toBeLessThanOrEqual(300);
    expectNoPart(prober!.lastFailure(KEY));
  });

  it("masks a secret in a failed connection's message", async () => {
    const dial = vi.fn<Dialer>(async () => Promise.reject(new Error(`connect refused by proxy ${SECRET}`)));
    newProber(dial).track(KEY, { tcp: { port: 5432 }, interval: "5s", timeout: "2s", retries: 1, startPeriod: "0s" }, NETWORK, [container("c1")]);
    await vi.advanceTimersByTimeAsync(0);
    expect(heard).toHaveLength(1);
    expect(heard[0]!.output).toBe("connect refused by proxy ***");
  });
});
