import { AuditRepository, DeploymentRepository, DriftRepository, EventRepository, HealthRepository, ResourceRepository, SnapshotRepository, TargetRepository, enforceRetention, type Retention } from "./repositories.ts";
import { PinRepository, RevisionRepository } from "./rollout-repositories.ts";
import { ParityRepository } from "./parity-repository.ts";
import { ManifestFileRepository } from "./manifest-repository.ts";
import { openDatabase, type OpenedDatabase } from "./store.ts";

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
  /** Round trip to the database, in milliseconds. */
  ping(): Promise<number>;
  enforceRetention(retention: Retention): Promise<number>;
  close(): void;
}

/** Builds the repositories over an opened database. */
export function createStore(opened: OpenedDatabase, now: () => number = Date.now): Store {
  const { db, client } = opened;
  return {
    url: opened.url,
    resources: new ResourceRepository(db, now),
    events: new EventRepository(db, now),
    health: new HealthRepository(db),
    deployments: new DeploymentRepository(db, now),
    drift: new DriftRepository(db, now),
    targets: new TargetRepository(db, now),
    audit: new AuditRepository(db),
    snapshots: new SnapshotRepository(db, now),
    revisions: new RevisionRepository(db, now),
    pins: new PinRepository(db, now),
    parity: new ParityRepository(db, now),
    manifests: new ManifestFileRepository(db, now),
    async ping() {
      const started = performance.now();
      await client.execute("SELECT 1");
      return performance.now() - started;
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
