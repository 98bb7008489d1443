import { describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { NEW_DEPLOYMENT } from "./decision.ts";
import { closeInterruptedRollouts, readRolloutRecord, rolloutRecordId, writeServiceRecords } from "./records.ts";
import { advanceRollout, startRollout, type RolloutInput } from "./rollout-machine.ts";

const KEY = "Service/dev/web";
const SECRET = "true";
const input: Omit<RolloutInput, "deploymentId"> = { key: KEY, revision: "b".repeat(64), manifestRevision: "b".repeat(64), previous: "a".repeat(64), autoRollback: true, healthTimeoutMs: 60_000, trigger: "manifest", startedAt: 1_700_000_000_000 };
// Masks a secret as the daemon's redactor does: every occurrence, wherever it is.
const redact = (text: string) => text.replaceAll(SECRET, "***").replaceAll("1700", "***");

describe("writeServiceRecords", () => {
  it("stores a begun rollout under its new row's id, masks only its free text, and reports each state it passed", async () => {
    const store = await openStore("file::memory:");
    const first = startRollout({ ...input, deploymentId: NEW_DEPLOYMENT });
    const failed = advanceRollout(advanceRollout(first, { type: "IMAGE_READY" }), { type: "FAILED", failure: `check said ${SECRET}` });
    const reported: string[] = [];
    await writeServiceRecords(KEY, { begin: { ...input, image: "web:2", spec: { revision: input.revision } as never }, rollout: failed, passed: [first, failed] }, { store, redact, onRollout: (r) => reported.push(`${r.state}#${r.context.deploymentId}`) });
    const [row] = await store.deployments.list({ service: KEY });
    const saved = readRolloutRecord(await store.snapshots.load(rolloutRecordId(KEY)));
    // Berth's own fields survive a secret that happens to be "true" or part of a timestamp.
    expect(saved?.context).toMatchObject({ deploymentId: row!.id, autoRollback: true, startedAt: input.startedAt, failure: "check said ***" });
    expect(saved?.state).toBe("rollingBack");
    expect(reported).toEqual([`building#${row!.id}`, `rollingBack#${row!.id}`]);
    store.close();
  });

  it("takes over the open row of the same revision a failed pass left, rather than opening another", async () => {
    const store = await openStore("file::memory:");
    const open = await store.deployments.start({ service: KEY, revision: input.revision, image: "web:2", status: "in_progress" });
    await writeServiceRecords(KEY, { begin: { ...input, image: "web:2", spec: { revision: input.revision } as never }, rollout: startRollout({ ...input, deploymentId: NEW_DEPLOYMENT }) }, { store, redact: (t) => t });
    expect((await store.deployments.list({ service: KEY })).map((d) => d.id)).toEqual([open]);
    expect(readRolloutRecord(await store.snapshots.load(rolloutRecordId(KEY)))?.context.deploymentId).toBe(open);
    store.close();
  });
});

describe("closeInterruptedRollouts", () => {
  it("closes rows without a live record and drops records this version cannot read", async () => {
    const store = await openStore("file::memory:");
    const orphanRow = await store.deployments.start({ service: "Service/dev/api", revision: "c".repeat(64), image: "api:1", status: "in_progress" });
    const liveRow = await store.deployments.start({ service: KEY, revision: input.revision, image: "web:2", status: "in_progress" });
    await store.snapshots.save(rolloutRecordId(KEY), "rollout", startRollout({ ...input, deploymentId: liveRow }));
    await store.snapshots.save(rolloutRecordId("Service/dev/old"), "rollout", { value: "deploying", context: { key: "Service/dev/old" } });
    expect(await closeInterruptedRollouts(store)).toBe(1);
    expect((await store.deployments.get(orphanRow))?.status).toBe("failed");
    expect((await store.deployments.get(liveRow))?.status).toBe("in_progress");
    expect(await store.snapshots.load(rolloutRecordId("Service/dev/old"))).toBeUndefined();
    store.close();
  });
});
