import type { DesiredModel, DesiredService } from "../../src/desired/model.ts";
import { desiredAtRevision, RevisionRestoreError, type RevisionSpec } from "../../src/desired/revision.ts";
import type { KeyStatus, ReplicaStatus } from "../../src/engine/controller.ts";
import type { Store } from "../../src/store/index.ts";
import { RETRY, type Pin } from "./pins.ts";
import { deployedRevision, readRolloutRecord, rolloutRecordId } from "./records.ts";
import type { RolloutContext } from "./rollout-machine.ts";

/** What kind of request failed, for the API to choose its answer; no transport detail here. */
export type RequestProblem = "invalid" | "not-found" | "conflict";

/** Thrown for an operator request that cannot be carried out as asked. */
export class RolloutRequestError extends Error {
  constructor(message: string, readonly problem: RequestProblem = "conflict") {
    super(message);
    this.name = "RolloutRequestError";
  }
}

/** A rollout as `berth rollout status` shows it. */
export type RolloutView = Pick<RolloutContext, "key" | "revision" | "previous" | "phase" | "steps" | "waiting" | "failure" | "trigger" | "deploymentId">;

/** What `GET /api/v1/services/<env>/<name>/rollout` answers. */
export interface RolloutStatus {
  service: string;
  manifestRevision: string;
  runningRevision?: string;
  rollout?: RolloutView;
  pin?: { runRevision: string | null; reason: string; since: number };
  /** The newest rollout's deployments row. */
  latest?: { id: number; revision: string; status: string; trigger: string; error: string | null; startedAt: number; completedAt: number | null };
  replicas: Omit<ReplicaStatus, "id" | "exitCode" | "created">[];
  error?: string;
}

/** The operator's rollout requests and status, served by the daemon's API. */
export interface RolloutApi {
  status(key: string): Promise<RolloutStatus | undefined>;
  rollback(key: string, to?: string): Promise<{ revision: string }>;
  retry(key: string): Promise<void>;
}

export interface RolloutApiDeps {
  model(): DesiredModel;
  store: Pick<Store, "deployments" | "snapshots" | "revisions" | "pins">;
  /** The service's last pass (its replicas), from the running daemon. */
  keyStatus(key: string): KeyStatus | undefined;
  /** Queue the service: its next pass acts on the request. */
  enqueue(key: string): void;
}

/**
 * Requests only write records (a pin) and queue the service: its next pass
 * decides and acts, as for any other change.
 */
export function rolloutApi(deps: RolloutApiDeps): RolloutApi {
  const { store } = deps;
  const declared = (key: string): DesiredService => {
    const service = deps.model().services.get(key);
    if (!service || service.error) throw new RolloutRequestError(`${key} is not declared in the manifests${service?.error ? ` as a deployable spec: ${service.error}` : ""}`, "not-found");
    return service;
  };
  const inFlight = async (key: string) => !!readRolloutRecord(await store.snapshots.load(rolloutRecordId(key)));
  const deployed = (key: string) => deployedRevision(store, key);

  return {
    async status(key) {
      const service = deps.model().services.get(key);
      if (!service) return undefined;
      const record = readRolloutRecord(await store.snapshots.load(rolloutRecordId(key)));
      const pin = await store.pins.get(key);
      const latest = await store.deployments.latest(key);
      const pass = deps.keyStatus(key);
      const replicas = (pass?.result?.replicas ?? []).map(({ slot, container, revision, state, health }) => ({ slot, container, revision, state, health }));
      const rollout = record ? viewOf(record.context) : undefined;
      return {
        service: key,
        manifestRevision: service.specHash,
        runningRevision: await deployed(key),
        rollout,
        pin: pin && pin.manifestRevision === service.specHash && pin.reason !== RETRY ? pin : undefined,
        latest: latest && { id: latest.id, revision: latest.revision, status: latest.status, trigger: latest.trigger, error: latest.error, startedAt: latest.startedAt, completedAt: latest.completedAt },
        replicas,
        error: pass ? undefined : "not looked at yet",
      };
    },

    /** `berth rollout retry`: try the manifest's revision again. */
    async retry(key) {
      const service = declared(key);
      if (await inFlight(key)) throw new RolloutRequestError(`${key} has a rollout in progress; wait for it to finish`);
      const pin = await store.pins.get(key);
      if (!pin || pin.manifestRevision !== service.specHash || pin.reason === RETRY) throw new RolloutRequestError(`${key} has no failed or rolled-back rollout to retry; it runs what its manifest asks for`);
      await store.pins.set({ service: key, manifestRevision: service.specHash, runRevision: service.specHash, reason: RETRY });
      deps.enqueue(key);
    },

    /**
     * `berth rollback`: roll a service out to a revision that succeeded before
     * (the one before the running one when none is named). It stays pinned
     * there until the manifest's revision of the service changes, or a retry.
     */
    async rollback(key, to) {
      const service = declared(key);
      if (await inFlight(key)) throw new RolloutRequestError(`${key} has a rollout in progress; wait for it to finish`);
      if (to !== undefined && to.length < 4) throw new RolloutRequestError(`revision "${to}" is too short to name one; expected at least 4 characters of a spec hash or commit from berth history`, "invalid");
      const pin = (await store.pins.get(key)) as Pin | undefined;
      // After a failure without rollback the containers may run a mix: no revision counts as running.
      const current = pin?.manifestRevision === service.specHash && pin.runRevision === null ? undefined : await deployed(key);
      const successes = await store.deployments.successful(key);
      const target = to ? successes.find((d) => d.revision.startsWith(to) || d.commit?.startsWith(to)) : successes.find((d) => d.revision !== current);
      if (!target) {
        const known = [...new Set(successes.map((d) => d.revision.slice(0, 12)))].join(", ") || "none";
        throw new RolloutRequestError(`${key} has no successful revision ${to ? `matching ${to}` : "before the running one"}; successful revisions: ${known}`, "not-found");
      }
      if (target.revision === current) throw new RolloutRequestError(`${key} already runs revision ${target.revision.slice(0, 12)}`);
      if (target.revision !== service.specHash) {
        // Fails now, not mid-rollout, when it cannot be restored.
        const spec = (await store.revisions.get(key, target.revision)) as RevisionSpec | undefined;
        if (!spec) throw new RevisionRestoreError(`revision ${target.revision.slice(0, 12)} of ${key} was never rolled out by Berth, so its spec is unknown; expected a revision from berth history`);
        desiredAtRevision(service, spec);
      }
      await store.pins.set({ service: key, manifestRevision: service.specHash, runRevision: target.revision, reason: `rollback to ${target.revision.slice(0, 12)}` });
      deps.enqueue(key);
      return { revision: target.revision };
    },
  };
}

function viewOf(context: RolloutContext): RolloutView {
  const { key, revision, previous, phase, steps, waiting, failure, trigger, deploymentId } = context;
  return { key, revision, previous, phase, steps, waiting, failure, trigger, deploymentId };
}
