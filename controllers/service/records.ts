import type { DesiredModel, DesiredService } from "../../src/desired/model.ts";
import { desiredAtRevision, type RevisionSpec } from "../../src/desired/revision.ts";
import type { Store } from "../../src/store/index.ts";
import { LABEL } from "../../src/docker/labels.ts";
import { NEW_DEPLOYMENT, type RecordWrites, type ServiceRecords } from "./decision.ts";
import type { Pin } from "./pins.ts";
import { rolloutOutcome, type RolloutRecord, type RolloutState } from "./rollout-machine.ts";

/** The tables a service's decisions live in. */
export type RecordStore = Pick<Store, "deployments" | "snapshots" | "revisions" | "pins"> & Partial<Pick<Store, "backups">>;

/** Rollout records are kept in the snapshots table under this machine name. */
export const ROLLOUT_MACHINE = "rollout";

export const rolloutRecordId = (key: string) => `${ROLLOUT_MACHINE}/${key}`;

const STATES = new Set<RolloutState>(["building", "deploying", "healthCheck", "completing", "complete", "stalled", "rollingBack", "verifyingRollback", "rolledBack", "rollbackFailed", "superseded"]);

/** A stored rollout record, or undefined when the row is not one this version can step (it is then ended as failed). */
export function readRolloutRecord(stored: unknown): RolloutRecord | undefined {
  const row = stored as { state?: unknown; context?: RolloutRecord["context"] } | undefined;
  if (!row?.context || typeof row.state !== "string" || !STATES.has(row.state as RolloutState)) return undefined;
  if (typeof row.context.deploymentId !== "number" || typeof row.context.key !== "string") return undefined;
  return { state: row.state as RolloutState, context: row.context };
}

/** The revision a service last ran successfully: a rollout's, or the previous one a rollback restored. */
export async function deployedRevision(store: Pick<RecordStore, "deployments">, key: string): Promise<string | undefined> {
  const row = await store.deployments.lastOutcome(key);
  return row ? (row.status === "success" ? row.revision : (row.previousRevision ?? undefined)) : undefined;
}

/** Everything the store knows that a service's decision depends on, read fresh every pass. */
export async function loadServiceRecords(key: string, manifest: DesiredService | undefined, model: DesiredModel, store: RecordStore): Promise<ServiceRecords> {
  const [stored, pinRow, deployed, latest, restore] = await Promise.all([store.snapshots.load(rolloutRecordId(key)), store.pins.get(key), deployedRevision(store, key), store.deployments.latest(key), store.backups?.activeRestore(key)]);
  const rollout = readRolloutRecord(stored);
  const pin: Pin | undefined = pinRow ?? undefined;
  const at = new Map<string, DesiredService>();
  let deployedSpec: RevisionSpec | undefined;
  if (manifest && !manifest.error) {
    const wanted = new Set([pin?.runRevision, rollout?.context.revision, rollout?.context.previous, deployed].filter((r): r is string => !!r && r !== manifest.specHash));
    for (const revision of wanted) {
      const spec = (await store.revisions.get(key, revision)) as RevisionSpec | undefined;
      if (!spec) continue;
      try {
        at.set(revision, desiredAtRevision(manifest, spec));
      } catch {
        // A secret that revision needs is gone: it cannot be restored, and the decision says so.
      }
    }
    if (deployed) deployedSpec = (await store.revisions.get(key, deployed)) as RevisionSpec | undefined;
  }
  return { rollout, pin, deployed, hasHistory: !!latest, at, deployedSpec, peers: manifest ? await peersOf(manifest, model, store) : new Map(), ...(restore ? { restoring: restore.backupId } : {}) };
}

/** The environment's services as their containers run now: a pin or a rollout in flight holds one on another revision. */
async function peersOf(manifest: DesiredService, model: DesiredModel, store: RecordStore): Promise<Map<string, DesiredService>> {
  const services = model.environments.get(manifest.environment)?.services ?? [];
  if (!manifest.dependsOn.length) return new Map(services.map((s) => [s.service, s]));
  const pins = new Map((await store.pins.list()).map((p) => [p.service, p]));
  const rolling = new Set((await store.snapshots.list(ROLLOUT_MACHINE)).map((s) => readRolloutRecord(s.snapshot)?.context.key));
  const peers = new Map<string, DesiredService>();
  for (const s of services) {
    let specHash = pins.get(s.key)?.runRevision ?? s.specHash;
    if (!pins.get(s.key) && rolling.has(s.key)) specHash = (await deployedRevision(store, s.key)) ?? s.specHash;
    peers.set(s.service, { ...s, specHash });
  }
  return peers;
}

export interface RecordWriter {
  store: RecordStore;
  /** Masks secret values: failures quote check output and Docker errors. */
  redact(text: string): string;
  /** The manifests' git revision, for the deployments row. */
  manifestCommit?: string;
  /** A rollout record changed state (started, stepped, ended), for events and metrics. */
  onRollout?(record: RolloutRecord, state: string): void;
  /** The image a revision's containers run, as `repo@sha256:…` (repo digest) or `sha256:…` (image ID), for its deployments row. */
  imageDigest?(revision: string): Promise<string | undefined>;
}

/**
 * Writes a pass's decision, in an order a crash cannot corrupt: a new
 * rollout's row and revision spec before its record; an ending rollout's row
 * and pin before its record goes. Then each state the rollout passed through
 * is reported once.
 */
export async function writeServiceRecords(key: string, writes: RecordWrites, writer: RecordWriter): Promise<void> {
  const { store, redact } = writer;
  let deploymentId: number | undefined;
  if (writes.begin) {
    const { image, spec, ...input } = writes.begin;
    await store.revisions.save(key, input.revision, spec);
    // A pass that opened the row but failed before its record was saved left it open: the retry takes it over.
    const open = await store.deployments.latest(key);
    deploymentId =
      open && open.revision === input.revision && (open.status === "in_progress" || open.status === "pending")
        ? open.id
        : await store.deployments.start({ service: key, revision: input.revision, image, commit: writer.manifestCommit, previousRevision: input.previous, trigger: input.trigger, status: "in_progress" });
  }
  // A rollout begun this pass gets its row's id now.
  const own = (record: RolloutRecord): RolloutRecord => (deploymentId !== undefined && record.context.deploymentId === NEW_DEPLOYMENT ? { ...record, context: { ...record.context, deploymentId } } : record);
  if (writes.rollout) await store.snapshots.save(rolloutRecordId(key), ROLLOUT_MACHINE, masked(own(writes.rollout), redact));
  if (writes.finish) {
    const { deploymentId: id, error, ...outcome } = writes.finish;
    // What actually ran (or was tried), not only the tag: a tag can move, a digest cannot. Unknown is no reason to lose the outcome.
    const revision = writes.ended?.context.revision;
    const imageDigest = revision && writer.imageDigest ? await writer.imageDigest(revision).catch(() => undefined) : undefined;
    await store.deployments.finish(id === NEW_DEPLOYMENT && deploymentId !== undefined ? deploymentId : id, { ...outcome, error: error === undefined ? undefined : redact(error), ...(imageDigest ? { imageDigest } : {}) });
  }
  if (writes.pin === null) await store.pins.clear(key);
  else if (writes.pin) await store.pins.set({ ...writes.pin, reason: redact(writes.pin.reason) });
  if (writes.rollout === null) await store.snapshots.remove(rolloutRecordId(key));
  for (const record of writes.passed ?? []) writer.onRollout?.(own(record), record.state);
}

/** A container as a list call shows it: enough to say which image it runs. */
export interface ListedContainer {
  ImageID?: string;
  Created: number;
  Labels?: Record<string, string>;
}

/**
 * The image ID a revision's containers run: fixed when each was created, so a
 * later pull of the same tag does not change it. Replicas created while the
 * tag moved differ: the newest container's, as what the revision runs now.
 */
export function imageRunBy(containers: readonly ListedContainer[], revision: string): string | undefined {
  const own = containers.filter((c) => c.Labels?.[LABEL.specHash] === revision && c.ImageID);
  return own.sort((a, b) => b.Created - a.Created)[0]?.ImageID;
}

/** A record as stored: its free text (a check's output, a Docker error) with secret values masked; the rest is Berth's own. */
function masked(record: RolloutRecord, redact: (text: string) => string): RolloutRecord {
  const { failure, rollbackError } = record.context;
  return { ...record, context: { ...record.context, failure: failure === undefined ? undefined : redact(failure), rollbackError: rollbackError === undefined ? undefined : redact(rollbackError) } };
}

/**
 * Rollouts a crash interrupted between opening their row and writing their
 * first record, and records this version cannot read: their rows end as failed
 * so history never shows a rollout in progress forever.
 */
export async function closeInterruptedRollouts(store: RecordStore, followedElsewhere: (service: string) => boolean = () => false): Promise<number> {
  const records = await store.snapshots.list(ROLLOUT_MACHINE);
  const live = new Set<number>();
  for (const { id, snapshot } of records) {
    const record = readRolloutRecord(snapshot);
    if (record && !rolloutOutcome(record.state)) live.add(record.context.deploymentId);
    else await store.snapshots.remove(id);
  }
  let closed = 0;
  for (const row of await store.deployments.open()) {
    // A Swarm service's rollout is Swarm's: it went on while no daemon ran, and the next pass reads how it ended.
    if (live.has(row.id) || followedElsewhere(row.service)) continue;
    await store.deployments.finish(row.id, { status: "failed", error: "interrupted by a daemon stop before its rollout record was saved" });
    closed++;
  }
  return closed;
}
