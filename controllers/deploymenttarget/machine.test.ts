import { describe, expect, it } from "vitest";
import { createActor, fromPromise, SimulatedClock, waitFor } from "xstate";
import { INITIAL_BACKOFF_MS, MAX_BACKOFF_MS, targetMachine, type EngineInfo, type TargetPhase } from "./machine.ts";

const NAME = "edge-1";
const ENGINE: EngineInfo = { version: "27.3.1", apiVersion: "1.47", latencyMs: 4 };

/** One invocation of a fake actor, settled by the test. */
interface Call<T> {
  input: { name: string };
  signal: AbortSignal;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** A promise actor whose every invocation waits for the test to resolve or reject it. */
function manual<T>() {
  const calls: Call<T>[] = [];
  const logic = fromPromise<T, { name: string }>(({ input, signal }) => new Promise<T>((resolve, reject) => calls.push({ input, signal, resolve, reject })));
  const last = () => {
    const call = calls.at(-1);
    if (!call) throw new Error("test: the actor was never invoked");
    return call;
  };
  return { logic, calls, last };
}

/** A started target actor on a simulated clock, with manual connect and watchEvents actors. */
function start() {
  const connect = manual<EngineInfo>();
  const watch = manual<void>();
  const clock = new SimulatedClock();
  const machine = targetMachine.provide({ actors: { connect: connect.logic, watchEvents: watch.logic } });
  const actor = createActor(machine, { input: { name: NAME }, clock }).start();
  const settled = (phase: TargetPhase) => waitFor(actor, (s) => s.context.phase === phase).then((s) => s.context);
  return {
    actor,
    clock,
    connect,
    watch,
    phase: () => actor.getSnapshot().context.phase,
    /** Lets the pending connect succeed and waits for Active. */
    connectSucceeds: (engine: EngineInfo = ENGINE) => {
      connect.last().resolve(engine);
      return settled("Active");
    },
    /** Lets the pending connect fail and waits for Unreachable. */
    connectFails: (message = "connect ECONNREFUSED /var/run/docker.sock") => {
      connect.last().reject(new Error(message));
      return settled("Unreachable");
    },
    settled,
  };
}

/** Backoff delays of consecutive failed retries: doubling from 1 s, capped at 5 min. */
const DELAYS = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000];

describe("targetMachine", () => {
  it("starts Connecting and invokes connect with the target's name", () => {
    const { actor, connect, watch } = start();
    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe("connecting");
    expect(snapshot.context).toEqual({ name: NAME, phase: "Connecting", backoffMs: INITIAL_BACKOFF_MS, connections: 0 });
    expect(connect.calls.map((c) => c.input)).toEqual([{ name: NAME }]);
    expect(watch.calls).toEqual([]);
  });

  it("Connecting -> Active on connect success: records the engine, counts the connection, watches events", async () => {
    const t = start();
    const context = await t.connectSucceeds();
    expect(t.actor.getSnapshot().value).toBe("active");
    expect(context).toEqual({ name: NAME, phase: "Active", engine: ENGINE, backoffMs: INITIAL_BACKOFF_MS, connections: 1 });
    expect(t.watch.calls.map((c) => c.input)).toEqual([{ name: NAME }]);
  });

  it("Connecting -> Unreachable on connect failure, recording the error", async () => {
    const t = start();
    const context = await t.connectFails("connect ECONNREFUSED 10.0.0.7:22");
    expect(t.actor.getSnapshot().value).toBe("unreachable");
    expect(context).toEqual({ name: NAME, phase: "Unreachable", error: "connect ECONNREFUSED 10.0.0.7:22", backoffMs: INITIAL_BACKOFF_MS, connections: 0 });
    expect(t.watch.calls).toEqual([]);
  });

  it("records a non-Error connect rejection as a string", async () => {
    const t = start();
    t.connect.last().reject("ssh: handshake failed");
    expect((await t.settled("Unreachable")).error).toBe("ssh: handshake failed");
  });

  it("Active -> Connecting when the event stream ends, then Active again with one more connection", async () => {
    const t = start();
    await t.connectSucceeds();
    t.watch.last().resolve();
    const connecting = await t.settled("Connecting");
    expect(t.actor.getSnapshot().value).toBe("connecting");
    expect(connecting.error).toBeUndefined();
    expect(connecting.connections).toBe(1);
    expect(t.connect.calls).toHaveLength(2);

    const next = { ...ENGINE, latencyMs: 9 };
    const active = await t.connectSucceeds(next);
    expect(active).toMatchObject({ engine: next, connections: 2, backoffMs: INITIAL_BACKOFF_MS });
    expect(t.watch.calls).toHaveLength(2);
  });

  it("Active -> Unreachable when the event stream breaks, recording the error, then Connecting after the backoff", async () => {
    const t = start();
    await t.connectSucceeds();
    t.watch.last().reject(new Error("socket hang up"));
    const unreachable = await t.settled("Unreachable");
    expect(t.actor.getSnapshot().value).toBe("unreachable");
    expect(unreachable).toEqual({ name: NAME, phase: "Unreachable", engine: ENGINE, error: "socket hang up", backoffMs: INITIAL_BACKOFF_MS, connections: 1 });
    expect(t.connect.calls).toHaveLength(1);

    t.clock.increment(INITIAL_BACKOFF_MS - 1);
    expect(t.phase()).toBe("Unreachable");
    expect(t.connect.calls).toHaveLength(1);

    t.clock.increment(1);
    expect(t.actor.getSnapshot().value).toBe("connecting");
    expect(t.actor.getSnapshot().context).toMatchObject({ phase: "Connecting", error: "socket hang up", engine: ENGINE, connections: 1, backoffMs: 2 * INITIAL_BACKOFF_MS });
    expect(t.connect.calls).toHaveLength(2);

    const active = await t.connectSucceeds();
    expect(active.error).toBeUndefined();
    expect(active.connections).toBe(2);
    expect(active.backoffMs).toBe(INITIAL_BACKOFF_MS);
    expect(t.watch.calls).toHaveLength(2);
  });

  it("records a non-Error event stream rejection as a string", async () => {
    const t = start();
    await t.connectSucceeds();
    t.watch.last().reject("EOF");
    expect((await t.settled("Unreachable")).error).toBe("EOF");
  });

  it("a stream that keeps breaking right after connecting waits the backoff each time instead of spinning", async () => {
    const t = start();
    for (let round = 1; round <= 3; round++) {
      expect((await t.connectSucceeds()).connections).toBe(round);
      t.watch.last().reject(new Error("events endpoint refused"));
      await t.settled("Unreachable");
      expect(t.connect.calls).toHaveLength(round);
      t.clock.increment(INITIAL_BACKOFF_MS - 1);
      expect(t.phase()).toBe("Unreachable");
      expect(t.connect.calls).toHaveLength(round);
      t.clock.increment(1);
      expect(t.phase()).toBe("Connecting");
      expect(t.connect.calls).toHaveLength(round + 1);
    }
    expect(t.watch.calls).toHaveLength(3);
  });

  it("RECONNECT from Unreachable after a broken stream -> Connecting at once", async () => {
    const t = start();
    await t.connectSucceeds();
    t.watch.last().reject(new Error("socket hang up"));
    await t.settled("Unreachable");
    t.actor.send({ type: "RECONNECT" });
    expect(t.phase()).toBe("Connecting");
    expect(t.connect.calls).toHaveLength(2);
    expect(t.actor.getSnapshot().context.backoffMs).toBe(INITIAL_BACKOFF_MS);

    // The cancelled backoff timer does not fire later.
    t.clock.increment(INITIAL_BACKOFF_MS);
    expect(t.phase()).toBe("Connecting");
    expect(t.connect.calls).toHaveLength(2);
  });

  it("Unreachable waits the backoff delay, then retries", async () => {
    const t = start();
    await t.connectFails();
    t.clock.increment(INITIAL_BACKOFF_MS - 1);
    expect(t.phase()).toBe("Unreachable");
    expect(t.connect.calls).toHaveLength(1);

    t.clock.increment(1);
    expect(t.phase()).toBe("Connecting");
    expect(t.actor.getSnapshot().context.backoffMs).toBe(2 * INITIAL_BACKOFF_MS);
    expect(t.connect.calls).toHaveLength(2);
  });

  it(`doubles the backoff on each failed retry, up to ${MAX_BACKOFF_MS} ms`, async () => {
    const t = start();
    expect([DELAYS[0], DELAYS.at(-1)]).toEqual([INITIAL_BACKOFF_MS, MAX_BACKOFF_MS]);

    const waited: number[] = [];
    for (const delay of DELAYS) {
      const { backoffMs } = await t.connectFails();
      waited.push(backoffMs);
      t.clock.increment(delay - 1);
      expect(t.phase()).toBe("Unreachable");
      t.clock.increment(1);
      expect(t.phase()).toBe("Connecting");
    }
    expect(waited).toEqual(DELAYS);
    expect(t.actor.getSnapshot().context.backoffMs).toBe(MAX_BACKOFF_MS);
    expect(t.connect.calls).toHaveLength(DELAYS.length + 1);
  });

  it("resets the backoff to the initial delay after a successful connect", async () => {
    const t = start();
    for (const delay of DELAYS.slice(0, 3)) {
      await t.connectFails();
      t.clock.increment(delay);
    }
    expect(t.actor.getSnapshot().context.backoffMs).toBe(8 * INITIAL_BACKOFF_MS);

    expect((await t.connectSucceeds()).backoffMs).toBe(INITIAL_BACKOFF_MS);
    t.watch.last().resolve();
    await t.settled("Connecting");
    await t.connectFails();
    t.clock.increment(INITIAL_BACKOFF_MS - 1);
    expect(t.phase()).toBe("Unreachable");
    t.clock.increment(1);
    expect(t.phase()).toBe("Connecting");
  });

  it("RECONNECT from Active -> Connecting, cancelling the event watch", async () => {
    const t = start();
    await t.connectSucceeds();
    t.actor.send({ type: "RECONNECT" });
    expect(t.actor.getSnapshot().value).toBe("connecting");
    expect(t.phase()).toBe("Connecting");
    expect(t.watch.last().signal.aborted).toBe(true);
    expect(t.connect.calls).toHaveLength(2);

    expect((await t.connectSucceeds()).connections).toBe(2);
  });

  it("RECONNECT from Unreachable -> Connecting at once, without growing the backoff", async () => {
    const t = start();
    await t.connectFails();
    const half = INITIAL_BACKOFF_MS / 2;
    t.clock.increment(half);
    t.actor.send({ type: "RECONNECT" });
    expect(t.actor.getSnapshot().value).toBe("connecting");
    expect(t.phase()).toBe("Connecting");
    expect(t.actor.getSnapshot().context.backoffMs).toBe(INITIAL_BACKOFF_MS);
    expect(t.connect.calls).toHaveLength(2);

    // The first spell's timer was cancelled: the next spell waits its own full delay.
    await t.connectFails();
    t.clock.increment(half);
    expect(t.phase()).toBe("Unreachable");
    expect(t.connect.calls).toHaveLength(2);
    t.clock.increment(INITIAL_BACKOFF_MS - half);
    expect(t.phase()).toBe("Connecting");
  });

  it("ignores RECONNECT while Connecting", () => {
    const t = start();
    t.actor.send({ type: "RECONNECT" });
    expect(t.phase()).toBe("Connecting");
    expect(t.connect.calls).toHaveLength(1);
    expect(t.connect.last().signal.aborted).toBe(false);
  });

  it("goes Unreachable with a clear message when no connect actor is provided", async () => {
    const actor = createActor(targetMachine, { input: { name: NAME }, clock: new SimulatedClock() }).start();
    const { context } = await waitFor(actor, (s) => s.context.phase === "Unreachable");
    expect(context.error).toBe("the connect actor was not provided");
  });
});
