import { describe, expect, it } from "vitest";
import { WorkQueue, type QueueClock } from "./workqueue.ts";

/** A clock that only moves when told to. */
class ManualClock implements QueueClock {
  time = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now() {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown) {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  advance(ms: number) {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.fn();
  }
}

describe("WorkQueue", () => {
  it("holds a key once however often it is added", async () => {
    const q = new WorkQueue(new ManualClock());
    q.add("Service/dev/web");
    q.add("Service/dev/web");
    q.add("Service/dev/api");
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe("Service/dev/web");
    expect(await q.get()).toBe("Service/dev/api");
  });

  it("never hands a key to two workers; an add during processing re-queues it after done", async () => {
    const q = new WorkQueue(new ManualClock());
    q.add("k");
    const key = await q.get();
    q.add("k");
    expect(q.depth).toBe(0);
    q.done(key!);
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe("k");
  });

  it("wakes a waiting worker when a key arrives", async () => {
    const q = new WorkQueue(new ManualClock());
    const next = q.get();
    q.add("k");
    expect(await next).toBe("k");
  });

  it("backs off per key exponentially from 5 ms up to 5 minutes, and forgets on success", () => {
    const q = new WorkQueue(new ManualClock());
    const delays = Array.from({ length: 20 }, () => q.addRateLimited("k"));
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    expect(delays.at(-1)).toBe(300_000);
    expect(q.addRateLimited("other")).toBe(5);
    q.forget("k");
    expect(q.addRateLimited("k")).toBe(5);
  });

  it("adds a delayed key when its time comes; the earlier of two delays wins", () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock);
    q.addAfter("k", 1000);
    q.addAfter("k", 500);
    q.addAfter("k", 2000);
    clock.advance(499);
    expect(q.depth).toBe(0);
    clock.advance(1);
    expect(q.depth).toBe(1);
    expect(q.delayed).toEqual([]);
  });

  it("reports idle only when nothing is queued, processing or delayed", async () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock);
    expect(q.idle).toBe(true);
    q.addAfter("k", 10);
    expect(q.idle).toBe(false);
    clock.advance(10);
    const key = await q.get();
    expect(q.idle).toBe(false);
    q.done(key!);
    expect(q.idle).toBe(true);
  });

  it("releases waiting workers with undefined on shutdown and accepts nothing after", async () => {
    const q = new WorkQueue(new ManualClock());
    const waiting = q.get();
    q.shutdown();
    expect(await waiting).toBeUndefined();
    q.add("k");
    expect(q.depth).toBe(0);
  });
});
