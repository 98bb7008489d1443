import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { Elector, LeadershipLostError, type Leadership } from "../../../src/leader/elector.ts";
import { createLogger } from "../../../src/log/logger.ts";
import { openStore, type Store } from "../../../src/store/index.ts";
import { DAEMON_LEASE, FencedWriteError, type Fence } from "../../../src/store/lease-repository.ts";

const silent = createLogger({ level: "error", write: () => {} });
let dir: string;
const stores: Store[] = [];
const electors: Elector[] = [];

afterEach(async () => {
  for (const elector of electors.splice(0)) await elector.release().catch(() => {});
  for (const store of stores.splice(0)) store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `n` stores on one database file: the daemons of one host sharing an embedded database. */
async function daemons(n: number): Promise<Store[]> {
  dir = mkdtempSync(join(tmpdir(), "berth-lease-"));
  for (let i = 0; i < n; i++) stores.push(await openStore(`file:${dir}/berth.db`));
  return stores.slice(0, n);
}

function elector(store: Store, holder: string, durationMs: number, changes: Leadership[] = []): Elector {
  const made = new Elector({ leases: store.leases, name: DAEMON_LEASE, holder, address: `127.0.0.1:${holder.length}`, durationMs, log: silent, onChange: (l) => changes.push(l) });
  electors.push(made);
  return made;
}

describe("lease", () => {
  it("is taken by one holder, renewed by it with the same term, refused to others until it expires, then taken with the next term", async () => {
    const [a, b] = await daemons(2);
    expect(await a!.leases.acquire("l", "A", 300)).toBe(1);
    expect(await b!.leases.acquire("l", "B", 300)).toBeUndefined();
    expect(await a!.leases.acquire("l", "A", 300)).toBe(1);
    expect((await b!.leases.get("l"))?.holder).toBe("A");
    await sleep(350);
    expect(await b!.leases.acquire("l", "B", 300)).toBe(2);
    expect(await a!.leases.acquire("l", "A", 300)).toBeUndefined();
    const row = await a!.leases.get("l");
    expect(row).toMatchObject({ holder: "B", term: 2 });
    expect(row!.expiresAt - row!.renewedAt).toBe(300);
  });

  it("is handed over at once when its holder releases it, and a stale release changes nothing", async () => {
    const [a, b] = await daemons(2);
    expect(await a!.leases.acquire("l", "A", 60_000)).toBe(1);
    await a!.leases.release("l", "A", 1);
    expect(await b!.leases.acquire("l", "B", 60_000)).toBe(2);
    await a!.leases.release("l", "A", 1);
    expect(await a!.leases.acquire("l", "A", 60_000)).toBeUndefined();
  });

  it("goes to exactly one of many daemons racing for it", async () => {
    const all = await daemons(6);
    const terms = await Promise.all(all.map((s, i) => s.leases.acquire("l", `D${i}`, 60_000)));
    expect(terms.filter((t) => t !== undefined)).toEqual([1]);
  });
});

describe("fenced rollout records", () => {
  it("land while the writer's term holds the lease; a deposed leader's late write and delete are refused and change nothing", async () => {
    const [a, b] = await daemons(2);
    const rejected: string[] = [];
    const fenceOf = (holder: string, term: number): Fence => ({ name: DAEMON_LEASE, holder, term, rejected: (what) => rejected.push(`${holder}: ${what}`) });
    expect(await a!.leases.acquire(DAEMON_LEASE, "A", 200)).toBe(1);
    a!.fenceWith(fenceOf("A", 1));
    await a!.snapshots.save("rollout/Service/e/web", "rollout", { step: 1 });
    expect(await b!.snapshots.load("rollout/Service/e/web")).toEqual({ step: 1 });

    await sleep(250);
    expect(await b!.leases.acquire(DAEMON_LEASE, "B", 60_000)).toBe(2);
    b!.fenceWith(fenceOf("B", 2));
    await b!.snapshots.save("rollout/Service/e/web", "rollout", { step: 2, by: "B" });

    await expect(a!.snapshots.save("rollout/Service/e/web", "rollout", { step: 9 })).rejects.toThrow(FencedWriteError);
    await expect(a!.snapshots.save("rollout/Service/e/other", "rollout", { step: 9 })).rejects.toThrow(/no longer leads.*term 1/);
    await expect(a!.snapshots.remove("rollout/Service/e/web")).rejects.toThrow(FencedWriteError);
    expect(await b!.snapshots.load("rollout/Service/e/web")).toEqual({ step: 2, by: "B" });
    expect(await b!.snapshots.load("rollout/Service/e/other")).toBeUndefined();
    expect(rejected).toEqual(["A: writing the rollout record rollout/Service/e/web", "A: writing the rollout record rollout/Service/e/other", "A: removing the rollout record rollout/Service/e/web"]);

    await b!.snapshots.remove("rollout/Service/e/web");
    expect(await a!.snapshots.load("rollout/Service/e/web")).toBeUndefined();

    // Rollout rows too: opened and closed only under the current term.
    const id = await b!.deployments.start({ service: "Service/e/web", revision: "r2", image: "web:2" });
    await expect(a!.deployments.start({ service: "Service/e/web", revision: "r9", image: "web:9" })).rejects.toThrow(FencedWriteError);
    await expect(a!.deployments.finish(id, { status: "failed", error: "late" })).rejects.toThrow(FencedWriteError);
    await b!.deployments.finish(id, { status: "success" });
    expect((await b!.deployments.list({ service: "Service/e/web" })).map((d) => [d.revision, d.status])).toEqual([["r2", "success"]]);
  });
});

describe("elector", () => {
  it("elects one of two daemons; the other takes over with the next term once the leader hands over", async () => {
    const [a, b] = await daemons(2);
    const changes: Leadership[] = [];
    const first = elector(a!, "A", 900, changes);
    const second = elector(b!, "B", 900);
    expect(await first.campaign()).toBe(true);
    expect(first.fence()).toMatchObject({ holder: "A", term: 1 });
    const taking = second.campaign();
    await sleep(700);
    // Renewed past its first expiry: still the only leader.
    expect(second.leadership).toBe("follower");
    expect(second.leader).toMatchObject({ holder: "A", term: 1, address: "127.0.0.1:1" });
    expect(second.fence()).toBeUndefined();
    const handedOver = performance.now();
    await first.release();
    expect(await taking).toBe(true);
    expect(performance.now() - handedOver).toBeLessThan(900);
    expect(second.term).toBe(2);
    expect(changes).toEqual(["leader"]);
  });

  it("steps down once no renewal is confirmed within two thirds of the lease", async () => {
    let failing = false;
    const leases = {
      acquire: async () => {
        if (failing) throw new Error("database unreachable");
        return 1;
      },
      release: async () => {},
      get: async () => undefined,
    };
    const made = new Elector({ leases, name: DAEMON_LEASE, holder: "A", durationMs: 600, log: silent });
    electors.push(made);
    dir = mkdtempSync(join(tmpdir(), "berth-lease-"));
    expect(await made.campaign()).toBe(true);
    const since = performance.now();
    failing = true;
    const lost = await made.lost;
    expect(lost).toBeInstanceOf(LeadershipLostError);
    expect(lost.message).toMatch(/no renewal confirmed/);
    expect(made.leadership).toBe("deposed");
    expect(made.fence()).toBeUndefined();
    // The watchdog fires 400 ms after the last confirmed renewal, before the lease (600 ms) could pass to another;
    // the bound leaves room for a loaded machine.
    expect(performance.now() - since).toBeLessThan(1_000);
  });

  it("may act only while its last confirmed renewal is younger than the deadline: a process resumed after a long pause is refused before any timer runs", async () => {
    const [a] = await daemons(1);
    let clock = 0;
    const made = new Elector({ leases: a!.leases, name: DAEMON_LEASE, holder: "A", durationMs: 60_000, log: silent, monotonic: () => clock });
    electors.push(made);
    expect(made.mayAct()).toBe(false);
    expect(await made.campaign()).toBe(true);
    expect(made.mayAct()).toBe(true);
    clock += 39_000;
    expect(made.mayAct()).toBe(true);
    clock += 2_000;
    // 41 s without a confirmed renewal: past two thirds of the 60 s lease.
    expect(made.mayAct()).toBe(false);
  });

  it("is deposed when it finds another holder at its next renewal, and a fenced write tells it at once", async () => {
    const [a, b] = await daemons(2);
    const made = elector(a!, "A", 60_000);
    expect(await made.campaign()).toBe(true);
    a!.fenceWith(made.fence());
    // Another daemon takes a lease that (as if A had been paused) expired.
    await b!.leases.release(DAEMON_LEASE, "A", 1);
    expect(await b!.leases.acquire(DAEMON_LEASE, "B", 60_000)).toBe(2);
    await expect(a!.snapshots.save("rollout/x", "rollout", {})).rejects.toThrow(FencedWriteError);
    expect(made.leadership).toBe("deposed");
    expect((await made.lost).message).toMatch(/rollout record rollout\/x was refused/);
  });
});
