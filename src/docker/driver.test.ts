import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { DockerCallError, DockerDriver, type DockerCall } from "./driver.ts";

/** Only the slice of dockerode these tests call; the driver's behaviour on a real engine is covered by the integration suites. */
function engine(behaviour: { ping: () => Promise<unknown>; createContainer?: () => Promise<unknown> }): Docker {
  return behaviour as unknown as Docker;
}

describe("DockerDriver", () => {
  it("gives up on a call that does not answer in time, and says which", async () => {
    const calls: DockerCall[] = [];
    const driver = new DockerDriver("slow", engine({ ping: () => new Promise(() => {}) }), { timeouts: { callMs: 20 }, readAttempts: 1, hooks: { onCall: (c) => calls.push(c) } });
    await expect(driver.ping()).rejects.toThrow(new DockerCallError("slow", "ping", new Error("no answer to ping within 20 ms")).message);
    expect(calls).toEqual([expect.objectContaining({ operation: "ping", outcome: "error", error: "no answer to ping within 20 ms (ETIMEDOUT)" })]);
  });

  it("retries a read on a transient error, never a mutating call", async () => {
    let pings = 0;
    let creates = 0;
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    const driver = new DockerDriver("flaky", engine({
      ping: async () => (++pings < 3 ? Promise.reject(reset) : "OK"),
      createContainer: async () => {
        creates++;
        throw reset;
      },
    }), { retryDelayMs: 1 });
    await expect(driver.ping()).resolves.toBe("OK");
    expect(pings).toBe(3);
    await expect(driver.createContainer({ name: "x" }, "test")).rejects.toBeInstanceOf(DockerCallError);
    expect(creates).toBe(1);
  });
});
