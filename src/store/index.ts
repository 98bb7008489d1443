import { AuditRepository, DeploymentRepository, DriftRepository, EventRepository, HealthRepository, ResourceRepository, TargetRepository, enforceRetention, type Retention } from "./repositories.ts";
import { PinRepository, RevisionRepository, SnapshotRepository } from "./rollout-repositories.ts";
import { ParityRepository } from "./parity-repository.ts";
import { ManifestFileRepository } from "./manifest-repository.ts";
import { SourceRepository } from "./source-repository.ts";
import { NotificationRepository } from "./notification-repository.ts";
import { BackupRepository } from "./backup-repository.ts";
import { LeaseRepository, type Fence } from "./lease-repository.ts";
import { classifyStoreError, WriteHealth, type StoreFault } from "./faults.ts";
import { databaseLocation, fileIdentity, openDatabase, type OpenedDatabase } from "./store.ts";

/** The repositories Berth writes what it observes to; passed to whoever needs them. */
export interface Store {
  url: string;
  resources: ResourceRepository;
  events: EventRepository;
  health: HealthRepository;
  deployments: DeploymentRepository;
  drift: DriftRepository;
  targets: TargetRepository;
  audit: AuditRepository;
  snapshots: SnapshotRepository;
  revisions: RevisionRepository;
  pins: PinRepository;
  parity: ParityRepository;
  /** Each manifest file's health as of the last load. */
  manifests: ManifestFileRepository;
  /** What the git source last fetched and put in force. */
  sources: SourceRepository;
  /** The notification outbox: what is still to be sent to webhooks, and what was. */
  notifications: NotificationRepository;
  /** Volume backups and restores. */
  backups: BackupRepository;
  /** The lease daemons sharing this database elect their leader with. */
  leases: LeaseRepository;
  /** Makes writes of rollout steps carry `fence` (the elected leader's holder and term); undefined writes without one. */
  fenceWith(fence: Fence | undefined): void;
  /** The database file, absolute, or the URL without its query: what fault messages name. */
  location: string;
  /** Whether writes land: the recorder reports each outcome, the readiness check reads it. */
  writes: WriteHealth;
  /** Round trip to the database, in milliseconds. */
  ping(): Promise<number>;
  /** Why the database file is no longer the one opened (deleted, replaced), or undefined; memory and servers have none. */
  fileProblem(): StoreFault | undefined;
  /**
   * The readiness check: throws one short message while the database file is
   * gone or replaced, while the last write to some table failed (see
   * WriteHealth), or when a round trip fails; otherwise describes the round trip.
   */
  check(): Promise<string>;
  enforceRetention(retention: Retention): Promise<number>;
  close(): void;
}

/** Builds the repositories over an opened database. */
export function createStore(opened: OpenedDatabase, now: () => number = Date.now): Store {
  const { db, client } = opened;
  const location = databaseLocation(opened.url);
  const writes = new WriteHealth();
  const ping = async () => {
    const started = performance.now();
    await client.execute("SELECT 1");
    return performance.now() - started;
  };
  const fileProblem = (): StoreFault | undefined => {
    const { file, identity } = opened;
    if (!file || !identity) return undefined;
    let current;
    try {
      current = fileIdentity(file);
    } catch (error) {
      return classifyStoreError(error, location);
    }
    if (!current) return { reason: "missing", message: `database file ${file} was deleted while berth had it open; what berth records now is lost: restart berth to create it again, or restore the file` };
    if (current.dev !== identity.dev || current.ino !== identity.ino) return { reason: "missing", message: `database file ${file} was replaced while berth had it open; berth still writes to the file it opened: restart berth to use the new one` };
    return undefined;
  };
  let fence: Fence | undefined;
  return {
    url: opened.url,
    location,
    writes,
    resources: new ResourceRepository(db, now),
    events: new EventRepository(db, now),
    health: new HealthRepository(db),
    deployments: new DeploymentRepository(db, now, () => fence),
    drift: new DriftRepository(db, now),
    targets: new TargetRepository(db, now),
    audit: new AuditRepository(db),
    snapshots: new SnapshotRepository(db, now, () => fence),
    revisions: new RevisionRepository(db, now),
    pins: new PinRepository(db, now),
    parity: new ParityRepository(db, now),
    manifests: new ManifestFileRepository(db, now),
    sources: new SourceRepository(db, now),
    notifications: new NotificationRepository(db, now),
    backups: new BackupRepository(db, now),
    leases: new LeaseRepository(db),
    fenceWith: (given) => void (fence = given),
    ping,
    fileProblem,
    async check() {
      const moved = fileProblem();
      if (moved) throw new Error(moved.message);
      const failure = writes.current();
      if (failure) throw new Error(`${failure.fault.message} (${failure.count} write${failure.count === 1 ? "" : "s"} failed since ${new Date(failure.since).toISOString()}, the last to ${failure.table})`);
      try {
        return `${Math.round(await ping())} ms round trip`;
      } catch (error) {
        throw new Error(classifyStoreError(error, location).message);
      }
    },
    enforceRetention: (retention) => enforceRetention(db, retention, now()),
    close: () => client.close(),
  };
}

/** Opens (and migrates) the database at `url` and returns its store; `mustExist` for commands that only read. */
export async function openStore(url?: string, options: { mustExist?: boolean } = {}): Promise<Store> {
  return createStore(await openDatabase(url, options));
}

export { DEFAULT_DB_URL } from "./store.ts";
export { DEFAULT_RETENTION, type Retention } from "./repositories.ts";
