import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildDesiredModel, type DesiredModel, type DesiredService } from "../../src/desired/model.ts";
import { RevisionRestoreError, revisionSpecOf } from "../../src/desired/revision.ts";
import type { KeyStatus, ReplicaStatus } from "../../src/engine/controller.ts";
import { loadManifests } from "../../src/manifests/load.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import type { DeploymentStatus } from "../../src/store/repositories.ts";
import { createManifestDir, type ManifestDir } from "../../test/support/manifest-dir.ts";
import { shopFiles } from "../../test/support/shop.ts";
import { rolloutApi, RolloutRequestError, type RequestProblem, type RolloutApi } from "./requests.ts";
import type { RolloutContext } from "./rollout-machine.ts";

// ---------------------------------------------------------------------------
// Helpers: the manifests declare Service web (image web:2) in Environment dev;
// the same service at image web:1 is an older revision of it. Requests run
// against a real in-memory store; the running daemon is faked by keyStatus
// (its last pass) and enqueue (what the request queued).
// ---------------------------------------------------------------------------

const KEY = "Service/dev/web";
const GHOST = "Service/dev/ghost";

const dirs: ManifestDir[] = [];

/** The desired model of a shop whose web service runs `image`, loaded by the real loader. */
async function modelWith(image: string): Promise<DesiredModel> {
  const dir = createManifestDir(shopFiles({ services: { web: { image } } }));
  dirs.push(dir);
  const state = await loadManifests(dir.dir);
  if (state.errors.length) throw new Error(`test manifests are invalid: ${state.errors.map((e) => e.message).join("; ")}`);
  return buildDesiredModel(state);
}

function webOf(model: DesiredModel): DesiredService {
  const web = model.services.get(KEY);
  if (!web || web.error) throw new Error(`${KEY} is not deployable in the test model: ${web?.error ?? "missing"}`);
  return web;
}

// Loaded once, at collection: the tables below name these revisions.
/** The manifests now (web:2). */
const model = await modelWith("web:2");
/** The manifest's revision of web. */
const CURRENT = webOf(model).specHash;
/** web as it was at web:1, an older revision. */
const old = webOf(await modelWith("web:1"));
const OLD = old.specHash;

afterAll(() => {
  for (const dir of dirs.splice(0)) dir.cleanup();
});

let store: Store;
let enqueue: ReturnType<typeof vi.fn<(key: string) => void>>;
let passes: Map<string, KeyStatus>;
let api: RolloutApi;

beforeEach(async () => {
  store = await openStore("file::memory:");
  enqueue = vi.fn<(key: string) => void>();
  passes = new Map();
  api = rolloutApi({ model: () => model, store, keyStatus: (key) => passes.get(key), enqueue });
});

afterEach(() => {
  store.close();
});

/** A deployments row of web that ended with `status`; its id. */
async function deployment(revision: string, status: DeploymentStatus = "success", previousRevision?: string): Promise<number> {
  const id = await store.deployments.start({ service: KEY, revision, image: revision === OLD ? "web:1" : "web:2", previousRevision, trigger: "manifest", status: "in_progress" });
  if (status !== "in_progress") await store.deployments.finish(id, { status });
  return id;
}

/** OLD then CURRENT rolled out successfully; OLD's spec stored as the controller stores it. */
async function twoSuccessfulDeployments(): Promise<void> {
  await store.revisions.save(KEY, OLD, revisionSpecOf(old));
  await deployment(OLD);
  await store.revisions.save(KEY, CURRENT, revisionSpecOf(webOf(model)));
  await deployment(CURRENT, "success", OLD);
}

/** A rollout of CURRENT in flight, its record as the controller persists it. */
async function rolloutInFlight(): Promise<RolloutContext> {
  const deploymentId = await deployment(CURRENT, "in_progress", OLD);
  const context: RolloutContext = { key: KEY, revision: CURRENT, manifestRevision: CURRENT, previous: OLD, autoRollback: true, healthTimeoutMs: 120_000, trigger: "manifest", deploymentId, startedAt: 1_000, phase: "HealthCheck", steps: 1, waiting: [0] };
  await store.snapshots.save(`rollout/${KEY}`, "rollout", { state: "healthCheck", context });
  return context;
}

/** What a request threw, for comparing problems and messages. */
async function refusal(request: Promise<unknown>): Promise<{ problem: RequestProblem; message: string }> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RolloutRequestError);
  const { problem, message } = error as RolloutRequestError;
  return { problem, message };
}

// ---------------------------------------------------------------------------

it("the test's two images are two revisions of web", () => {
  expect(CURRENT).toMatch(/^[0-9a-f]{64}$/);
  expect(OLD).toMatch(/^[0-9a-f]{64}$/);
  expect(CURRENT).not.toBe(OLD);
});

describe("rolloutApi: refused requests", () => {
  interface Refused {
    name: string;
    arrange?: () => Promise<unknown>;
    act: (api: RolloutApi) => Promise<unknown>;
    problem: RequestProblem;
    message: string;
  }

  const cases: Refused[] = [
    { name: "retry without a pin: the service already runs what its manifest asks for", act: (a) => a.retry(KEY), problem: "conflict", message: "has no failed or rolled-back rollout to retry" },
    {
      name: "retry of a pin the manifests have moved past",
      arrange: () => store.pins.set({ service: KEY, manifestRevision: OLD, runRevision: "c".repeat(64), reason: "rolled back: exit 1" }),
      act: (a) => a.retry(KEY),
      problem: "conflict",
      message: "has no failed or rolled-back rollout to retry",
    },
    {
      name: "retry while a retry is already asked for",
      arrange: () => store.pins.set({ service: KEY, manifestRevision: CURRENT, runRevision: CURRENT, reason: "retry" }),
      act: (a) => a.retry(KEY),
      problem: "conflict",
      message: "has no failed or rolled-back rollout to retry",
    },
    {
      name: "retry while a rollout record exists, even with a rolled-back pin",
      arrange: async () => {
        await store.pins.set({ service: KEY, manifestRevision: CURRENT, runRevision: OLD, reason: "rolled back: exit 1" });
        await rolloutInFlight();
      },
      act: (a) => a.retry(KEY),
      problem: "conflict",
      message: "has a rollout in progress",
    },
    { name: "retry of a service no manifest declares", act: (a) => a.retry(GHOST), problem: "not-found", message: `${GHOST} is not declared in the manifests` },
    { name: "rollback without any history", act: (a) => a.rollback(KEY), problem: "not-found", message: "has no successful revision before the running one; successful revisions: none" },
    {
      name: "rollback with only the running revision in history",
      arrange: () => deployment(CURRENT),
      act: (a) => a.rollback(KEY),
      problem: "not-found",
      message: `successful revisions: ${CURRENT.slice(0, 12)}`,
    },
    {
      name: "rollback to a revision that never succeeded",
      arrange: twoSuccessfulDeployments,
      act: (a) => a.rollback(KEY, "ffffffff"),
      problem: "not-found",
      message: "has no successful revision matching ffffffff",
    },
    { name: "rollback to a `to` too short to name a revision", arrange: twoSuccessfulDeployments, act: (a) => a.rollback(KEY, "abc"), problem: "invalid", message: 'revision "abc" is too short' },
    {
      name: "rollback to the revision already running",
      arrange: twoSuccessfulDeployments,
      act: (a) => a.rollback(KEY, CURRENT.slice(0, 8)),
      problem: "conflict",
      message: `already runs revision ${CURRENT.slice(0, 12)}`,
    },
    {
      name: "rollback while a rollout record exists",
      arrange: async () => {
        await twoSuccessfulDeployments();
        await rolloutInFlight();
      },
      act: (a) => a.rollback(KEY),
      problem: "conflict",
      message: "has a rollout in progress",
    },
    { name: "rollback of a service no manifest declares", act: (a) => a.rollback(GHOST), problem: "not-found", message: `${GHOST} is not declared in the manifests` },
  ];

  it.each(cases)("$name -> $problem", async ({ arrange, act, problem, message }) => {
    await arrange?.();
    const pinBefore = await store.pins.get(KEY);
    const refused = await refusal(act(api));
    expect(refused.problem).toBe(problem);
    expect(refused.message).toContain(message);
    // A refused request writes nothing and queues nothing.
    expect(await store.pins.get(KEY)).toEqual(pinBefore);
    expect(enqueue).not.toHaveBeenCalled();
  });
});

describe("rolloutApi.retry", () => {
  it("after a rollback, pins the manifest's revision with reason retry and queues the service", async () => {
    await store.pins.set({ service: KEY, manifestRevision: CURRENT, runRevision: OLD, reason: "rolled back: exit 1" });
    await api.retry(KEY);
    expect(await store.pins.get(KEY)).toMatchObject({ service: KEY, manifestRevision: CURRENT, runRevision: CURRENT, reason: "retry" });
    expect(enqueue).toHaveBeenCalledExactlyOnceWith(KEY);
  });

  it("after a failure without rollback (frozen, runRevision null), asks for the manifest's revision again", async () => {
    await store.pins.set({ service: KEY, manifestRevision: CURRENT, runRevision: null, reason: "rollout failed: exit 1" });
    await api.retry(KEY);
    expect(await store.pins.get(KEY)).toMatchObject({ runRevision: CURRENT, reason: "retry" });
    expect(enqueue).toHaveBeenCalledExactlyOnceWith(KEY);
  });
});

describe("rolloutApi.rollback", () => {
  it("without `to`, pins the successful revision before the running one and queues the service", async () => {
    await twoSuccessfulDeployments();
    expect(await api.rollback(KEY)).toEqual({ revision: OLD });
    expect(await store.pins.get(KEY)).toMatchObject({ service: KEY, manifestRevision: CURRENT, runRevision: OLD, reason: `rollback to ${OLD.slice(0, 12)}` });
    expect(enqueue).toHaveBeenCalledExactlyOnceWith(KEY);
  });

  it("with `to`, pins the successful revision it is a prefix of", async () => {
    await twoSuccessfulDeployments();
    expect(await api.rollback(KEY, OLD.slice(0, 4))).toEqual({ revision: OLD });
    expect(await store.pins.get(KEY)).toMatchObject({ runRevision: OLD });
    expect(enqueue).toHaveBeenCalledExactlyOnceWith(KEY);
  });

  it("refuses, before pinning, a revision whose spec Berth never stored", async () => {
    await deployment(OLD);
    await deployment(CURRENT, "success", OLD);
    await expect(api.rollback(KEY)).rejects.toThrow(RevisionRestoreError);
    expect(await store.pins.get(KEY)).toBeUndefined();
    expect(enqueue).not.toHaveBeenCalled();
  });
});

describe("rolloutApi.status", () => {
  const replica = (slot: number, revision: string): ReplicaStatus => ({ slot, container: `shop-dev-web-${slot}-${revision.slice(0, 7)}`, id: `id${slot}`.padEnd(64, "0"), revision, state: "running", health: "starting", exitCode: 0, created: 1_700_000_000 + slot });

  it("answers the manifest's revision, the rollout in flight and the replicas of the last pass", async () => {
    await twoSuccessfulDeployments();
    const context = await rolloutInFlight();
    passes.set(KEY, {
      kind: "Service",
      name: "dev/web",
      phase: "Rolling",
      message: "rollout",
      ready: false,
      converged: false,
      result: { phase: "Rolling", message: "rollout", ready: false, converged: false, changes: [], specHash: "x", plan: [], replicas: [replica(0, CURRENT), replica(1, OLD)] },
    });

    const status = await api.status(KEY);
    expect(status).toMatchObject({ service: KEY, manifestRevision: CURRENT, runningRevision: CURRENT, latest: { id: context.deploymentId, revision: CURRENT, status: "in_progress", trigger: "manifest", error: null, completedAt: null } });
    // Only what `berth rollout status` shows of the record.
    expect(status?.rollout).toEqual({ key: KEY, revision: CURRENT, previous: OLD, phase: "HealthCheck", steps: 1, waiting: [0], trigger: "manifest", deploymentId: context.deploymentId });
    // Replicas without their container ids, exit codes and creation times.
    expect(status?.replicas).toEqual([
      { slot: 0, container: replica(0, CURRENT).container, revision: CURRENT, state: "running", health: "starting" },
      { slot: 1, container: replica(1, OLD).container, revision: OLD, state: "running", health: "starting" },
    ]);
    expect(status?.pin).toBeUndefined();
    expect(status?.error).toBeUndefined();
  });

  it("before the daemon looked at the service: no replicas, no rollout, and says so", async () => {
    const status = await api.status(KEY);
    expect(status).toMatchObject({ service: KEY, manifestRevision: CURRENT, replicas: [], error: "not looked at yet" });
    expect(status?.rollout).toBeUndefined();
    expect(status?.runningRevision).toBeUndefined();
    expect(status?.latest).toBeUndefined();
  });

  it("shows a pin that holds the service, not a retry request", async () => {
    await store.pins.set({ service: KEY, manifestRevision: CURRENT, runRevision: OLD, reason: "rollback to old" });
    expect((await api.status(KEY))?.pin).toMatchObject({ runRevision: OLD, reason: "rollback to old" });
    await store.pins.set({ service: KEY, manifestRevision: CURRENT, runRevision: CURRENT, reason: "retry" });
    expect((await api.status(KEY))?.pin).toBeUndefined();
  });

  it("answers undefined for a service no manifest declares", async () => {
    expect(await api.status(GHOST)).toBeUndefined();
  });
});
