import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Every controller key's last known state: spec, generations, phase and conditions. */
export const resources = sqliteTable("resources", {
  /** Controller key, e.g. `Service/development/web`. */
  key: text("key").primaryKey(),
  kind: text("kind").notNull(),
  name: text("name").notNull(),
  /** The manifest spec as JSON, secret literals masked. */
  spec: text("spec").notNull(),
  specHash: text("spec_hash").notNull(),
  /** Bumps whenever specHash changes. */
  generation: integer("generation").notNull(),
  /** The generation the last successful reconcile converged. */
  observedGeneration: integer("observed_generation").notNull().default(0),
  phase: text("phase").notNull(),
  message: text("message").notNull().default(""),
  /** Kubernetes-style conditions as JSON: [{type, status, reason, message, lastTransitionTime}]. */
  conditions: text("conditions").notNull().default("[]"),
  sourceFile: text("source_file"),
  revision: text("revision"),
  updatedAt: integer("updated_at").notNull(),
  /** Optimistic concurrency: every write must name the version it read. */
  stateVersion: integer("state_version").notNull().default(1),
});

/** Kubernetes-style events; a repeat of the same event folds into one row with a count. */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    type: text("type").notNull(),
    reason: text("reason").notNull(),
    message: text("message").notNull(),
    involvedKind: text("involved_kind").notNull(),
    involvedName: text("involved_name").notNull(),
    /** The source commit in force when the event (last) happened; null for a plain directory outside git. */
    commit: text("commit"),
    firstTime: integer("first_time").notNull(),
    lastTime: integer("last_time").notNull(),
    count: integer("count").notNull().default(1),
  },
  (t) => [
    uniqueIndex("events_fold").on(t.involvedKind, t.involvedName, t.type, t.reason, t.message),
    index("events_last_time").on(t.lastTime),
  ],
);

/** Health check results per container over time. */
export const healthResults = sqliteTable(
  "health_results",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Container name. */
    instance: text("instance").notNull(),
    service: text("service").notNull(),
    time: integer("time").notNull(),
    status: text("status").notNull(),
    checkType: text("check_type").notNull(),
    exitCode: integer("exit_code"),
    httpStatus: integer("http_status"),
    output: text("output"),
    responseMs: real("response_ms"),
    error: text("error"),
  },
  (t) => [index("health_instance_time").on(t.instance, t.time), index("health_status_time").on(t.status, t.time), index("health_service_time").on(t.service, t.time)],
);

/** One row per rollout of a service revision. */
export const deployments = sqliteTable(
  "deployments",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    service: text("service").notNull(),
    /** The spec hash deployed. */
    revision: text("revision").notNull(),
    image: text("image").notNull(),
    /** The image's content digest (`repo@sha256:…`) the rollout ran, once known. */
    imageDigest: text("image_digest"),
    /** The source commit whose manifests asked for this revision. */
    commit: text("manifest_revision"),
    status: text("status").notNull(),
    startedAt: integer("started_at").notNull(),
    completedAt: integer("completed_at"),
    previousRevision: text("previous_revision"),
    healthCheckPassed: integer("health_check_passed", { mode: "boolean" }),
    error: text("error"),
    /** What asked for it: `manifest` (a new revision), `rollback` (an operator) or `retry`. */
    trigger: text("trigger").notNull().default("manifest"),
  },
  (t) => [index("deployments_service_started").on(t.service, t.startedAt)],
);

/** The container spec of every revision Berth rolled out, so an older one can be restored; secret values are never stored. */
export const revisions = sqliteTable(
  "revisions",
  {
    service: text("service").notNull(),
    /** The spec hash. */
    revision: text("revision").notNull(),
    /** JSON of the revision's container spec with secret values replaced by their names. */
    spec: text("spec").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("revisions_service_revision").on(t.service, t.revision)],
);

/**
 * A service that runs another revision than its manifest asks for: after an
 * automatic rollback (so the failed revision is not retried in a loop), after
 * an operator's rollback, or frozen after a failure without autoRollback.
 * It holds while the manifest still asks for `manifestRevision`.
 */
export const servicePins = sqliteTable("service_pins", {
  service: text("service").primaryKey(),
  manifestRevision: text("manifest_revision").notNull(),
  /** The revision to run instead; null leaves the containers as they are. */
  runRevision: text("run_revision"),
  reason: text("reason").notNull(),
  since: integer("since").notNull(),
});

/** Immutable record of each pass that found Docker different from a spec it had already converged. */
export const driftChecks = sqliteTable(
  "drift_checks",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    time: integer("time").notNull(),
    key: text("key").notNull(),
    /** JSON: [{path, observed, desired}]. */
    differences: text("differences").notNull(),
    repaired: integer("repaired", { mode: "boolean" }).notNull(),
  },
  (t) => [index("drift_key_time").on(t.key, t.time)],
);

/** Last known state of each Docker engine. */
export const targets = sqliteTable("targets", {
  name: text("name").primaryKey(),
  status: text("status").notNull(),
  engineVersion: text("engine_version"),
  apiVersion: text("api_version"),
  latencyMs: real("latency_ms"),
  lastSeen: integer("last_seen"),
  error: text("error"),
  updatedAt: integer("updated_at").notNull(),
});

/** Every mutating Docker call, why it was made, and how it ended. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    time: integer("time").notNull(),
    target: text("target").notNull(),
    operation: text("operation").notNull(),
    object: text("object"),
    reason: text("reason"),
    outcome: text("outcome").notNull(),
    error: text("error"),
    durationMs: real("duration_ms").notNull(),
    /** The source commit in force when the call was made. */
    commit: text("commit"),
  },
  (t) => [index("audit_time").on(t.time), index("audit_target_time").on(t.target, t.time)],
);

/** Persisted XState snapshots of long-running actors (rollouts), so a restarted daemon resumes them. */
export const actorSnapshots = sqliteTable("actor_snapshots", {
  /** Actor id, e.g. `rollout/Service/production/web`. */
  id: text("id").primaryKey(),
  machine: text("machine").notNull(),
  snapshot: text("snapshot").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Every `berth diff-env` report: which two environments, when, and what differed (secret values masked). */
export const parityReports = sqliteTable(
  "parity_reports",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    time: integer("time").notNull(),
    project: text("project").notNull(),
    environmentA: text("environment_a").notNull(),
    environmentB: text("environment_b").notNull(),
    identical: integer("identical", { mode: "boolean" }).notNull(),
    /** JSON: counts per status and severity. */
    summary: text("summary").notNull(),
    /** JSON: the whole report. */
    report: text("report").notNull(),
  },
  (t) => [index("parity_project_time").on(t.project, t.time)],
);

/** Each manifest file's health as of the last load: the full set is replaced on every load. */
export const manifestFiles = sqliteTable("manifest_files", {
  /** The file as shown in messages (relative to the working directory when possible). */
  file: text("file").primaryKey(),
  /** `valid`; `stale` (broken, its last valid version stays in force); `invalid` (broken, never valid since the loader started). */
  state: text("state").notNull(),
  /** JSON: [{line, col, message}], the message without the file:line:col prefix; `[]` when valid. */
  errors: text("errors").notNull().default("[]"),
  /** JSON: the `Kind/name` of every resource the broken file keeps in force (its last good version's when stale); `[]` when valid. */
  resources: text("resources").notNull().default("[]"),
  /** When the row last changed: for a broken file, since when it has been broken this way. */
  updatedAt: integer("updated_at").notNull(),
});

/** What each followed source (a git repository) last fetched, verified and put in force. */
export const sources = sqliteTable("sources", {
  /** `git` for the daemon's one git source. */
  name: text("name").primaryKey(),
  /** The repository URL without credentials. */
  url: text("url").notNull(),
  ref: text("ref").notNull(),
  /** The commit whose manifests are in force (the last good one). */
  commit: text("commit"),
  subject: text("subject"),
  /** The newest commit fetched, whether or not it was put in force. */
  fetchedCommit: text("fetched_commit"),
  fetchedAt: integer("fetched_at"),
  /** Signature of the commit in force: true verified, false refused, null not checked. */
  verified: integer("verified", { mode: "boolean" }),
  signer: text("signer"),
  /** Kubernetes-style conditions as JSON: SourceReady, SourceVerified. */
  conditions: text("conditions").notNull().default("[]"),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * Notifications waiting to be delivered, and delivered ones until retention:
 * written in the same pass that saw the outcome, sent by a delivery loop with
 * backoff, so a restart or a receiver outage loses nothing and sends nothing twice.
 */
export const notificationOutbox = sqliteTable(
  "notification_outbox",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** One row per (outcome, receiver): a second enqueue of the same outcome is ignored. */
    dedupeKey: text("dedupe_key").notNull(),
    /** Which manifest's receiver by its stable identity, e.g. `Project/shop/ops-slack`; the URL and signing secret are resolved at delivery, never stored. */
    receiver: text("receiver").notNull(),
    /** The event filter name, e.g. `rollout.rolled_back`. */
    event: text("event").notNull(),
    /** JSON of the documented payload (no secrets). */
    payload: text("payload").notNull(),
    /** `pending`, `delivered` or `dropped` (its receiver is gone from the manifests). */
    state: text("state").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    deliveredAt: integer("delivered_at"),
    /** Until when one process holds the row to send it (another leaves it alone); null when no one does. */
    claimedUntil: integer("claimed_until"),
  },
  (t) => [uniqueIndex("outbox_dedupe").on(t.dedupeKey), index("outbox_state_next").on(t.state, t.nextAttemptAt)],
);

/**
 * Volume backups: one row per run (scheduled or `berth backup now`), from
 * start to its archive's deletion by retention. Rows hold no data, only
 * where the archive is and its checksum.
 */
export const backups = sqliteTable(
  "backups",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** The Service key, e.g. `Service/production/db`. */
    service: text("service").notNull(),
    /** The volume as the manifests name it. */
    volume: text("volume").notNull(),
    /** The Docker volume copied. */
    dockerVolume: text("docker_volume").notNull(),
    target: text("target").notNull(),
    /** `volume:<docker volume>` or `path:<directory on the target host>`. */
    destination: text("destination").notNull(),
    /** The archive's path inside the destination. */
    file: text("file").notNull(),
    /** `schedule` or `manual`. */
    trigger: text("trigger").notNull(),
    /** `running`, `succeeded`, `failed`, or `pruned` (deleted by retention). */
    status: text("status").notNull(),
    startedAt: integer("started_at").notNull(),
    finishedAt: integer("finished_at"),
    sizeBytes: integer("size_bytes"),
    sha256: text("sha256"),
    error: text("error"),
  },
  (t) => [index("backups_service_started").on(t.service, t.volume, t.startedAt)],
);

/** Restores of a backup into its volume; a running one holds its Service (Berth neither starts nor replaces its containers). */
export const restores = sqliteTable(
  "restores",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    service: text("service").notNull(),
    backupId: integer("backup_id").notNull(),
    /** `running`, `succeeded` or `failed`. */
    status: text("status").notNull(),
    startedAt: integer("started_at").notNull(),
    /** Renewed while the restore runs: the hold lapses soon after its process died. */
    heartbeatAt: integer("heartbeat_at").notNull(),
    finishedAt: integer("finished_at"),
    error: text("error"),
  },
  (t) => [index("restores_service_status").on(t.service, t.status)],
);

/**
 * Leadership among daemons sharing this database: one row per lease. The holder
 * renews it by compare-and-set against the database's clock; another daemon
 * takes it only once it has expired, with the next term. Writes of rollout
 * steps carry the term, so a deposed leader's late write changes nothing.
 */
export const leases = sqliteTable("leases", {
  name: text("name").primaryKey(),
  /** Who holds it: host, process id and a random part, new for every start. */
  holder: text("holder").notNull(),
  /** Grows by one each time the lease changes hands. */
  term: integer("term").notNull(),
  /** The holder's HTTP address, for followers to point clients at. */
  address: text("address"),
  /** Milliseconds since the epoch, by the database's clock. */
  acquiredAt: integer("acquired_at").notNull(),
  renewedAt: integer("renewed_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
});
