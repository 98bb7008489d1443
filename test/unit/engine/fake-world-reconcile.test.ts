import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controllers, targets } from "../../../controllers/index.ts";
import { LABEL } from "../../../src/docker/labels.ts";
import type { ResourceStatus } from "../../../src/engine/controller.ts";
import { Manager } from "../../../src/engine/manager.ts";
import type { PlanResult } from "../../../src/engine/plan.ts";
import { createLogger, type Logger, type LogLevel, Redactor } from "../../../src/log/logger.ts";
import { type DesiredState, loadManifests } from "../../../src/manifests/load.ts";
import { SchemaValidator } from "../../../src/manifests/schema-validator.ts";
import { Metrics } from "../../../src/metrics/metrics.ts";
import { Recorder } from "../../../src/record/recorder.ts";
import { openStore, type Store } from "../../../src/store/index.ts";
import { fakeWorld, type FakeCall, type FakeWorld } from "../../support/fake-world.ts";
import { createManifestDir, type ManifestDir } from "../../support/manifest-dir.ts";
import { shopFiles, type Spec } from "../../support/shop.ts";

/**
 * The whole reconcile path (manager, runner, controllers, store, recorder)
 * against the in-memory fake world: given this world and these manifests,
 * after settling the world is … Each row has its own world, store and
 * long-lived manager, like a daemon whose manifests change once; every row
 * also checks that plan named exactly the resources apply then mutated, and
 * that a resync afterwards changes nothing. Rows run at once, in milliseconds.
 */

const validator = new SchemaValidator();
const POLL_MS = 20;
/** Long enough that only a stuck key reaches it: every row settles well within. */
const SETTLE_TIMEOUT_MS = 5_000;

type Services = Record<string, Spec>;

/** A Service of project shop in environment dev, imagePullPolicy Never: the world has the image or the rollout fails. */
const service = (spec: Spec): Spec => ({ image: "app:1", imagePullPolicy: "Never", stopGracePeriod: "1s", ...spec });
const execCheck = { exec: { command: ["true"] }, interval: "1s", timeout: "1s", retries: 1 };
const dataVolume = [{ type: "volume", source: "data", target: "/data" }];

/** Manifests directories by content: rows share them, and each is loaded (validated, git looked up) once. */
const loaded = new Map<string, { dir: ManifestDir; state: Promise<DesiredState> }>();
afterAll(() => {
  for (const { dir } of loaded.values()) dir.cleanup();
});

/** The desired state of project shop with these services, in environment dev with this spec. */
function desiredState(services: Services, environment: Spec = {}): Promise<DesiredState> {
  const files = shopFiles({ services, environments: { dev: environment } });
  const key = JSON.stringify(files);
  let entry = loaded.get(key);
  if (!entry) {
    const dir = createManifestDir(files);
    const state = loadManifests(dir.dir, { validator }).then((s) => {
      expect(s.errors.map((e) => e.message)).toEqual([]);
      return s;
    });
    entry = { dir, state };
    loaded.set(key, entry);
  }
  return entry.state;
}

interface Settled {
  ok: boolean;
  pending: ResourceStatus[];
  ms: number;
}

/** One world, one store, one long-lived manager (as `berth run`), and what they recorded. */
class Run {
  readonly logs: Record<string, unknown>[] = [];
  readonly redactor = new Redactor();
  readonly log: Logger;
  /** Events, rows and audit as the daemon records them; only rows that read them pay for the writes. */
  readonly recorder?: Recorder;
  readonly world: FakeWorld;
  readonly manager: Manager;

  private constructor(readonly store: Store, images: string[], options: { logLevel?: LogLevel; recorded?: boolean }) {
    this.log = createLogger({ level: options.logLevel ?? "warn", format: "json", write: (line) => this.logs.push(JSON.parse(line) as Record<string, unknown>), redactor: this.redactor });
    const recorder = options.recorded ? new Recorder({ store, metrics: new Metrics(), redactor: this.redactor, log: this.log }) : undefined;
    this.recorder = recorder;
    this.world = fakeWorld({ images, hooks: recorder && { onCall: recorder.onDockerCall, beforeCall: recorder.beforeDockerCall } });
    this.manager = this.newManager(true);
  }

  static async open(images: string[], options: { logLevel?: LogLevel; recorded?: boolean }): Promise<Run> {
    return new Run(await openStore("file::memory:"), images, options);
  }

  private newManager(observed: boolean): Manager {
    return new Manager({ log: this.log, redactor: this.redactor, connect: () => this.world, controllers, targets, store: this.store, watchEvents: false, rolloutPollMs: POLL_MS, observer: observed ? this.recorder : undefined });
  }

  /** What `berth plan` says for these manifests now: a separate manager, never started, on the same world and store. */
  async plan(services: Services, environment?: Spec): Promise<PlanResult> {
    const planner = this.newManager(false);
    try {
      planner.setDesired(await desiredState(services, environment));
      await planner.connected();
      return await planner.plan();
    } finally {
      await planner.stop();
    }
  }

  /** The daemon reads new manifests and works until everything settles (or cannot get further). */
  async apply(services: Services, environment?: Spec): Promise<Settled> {
    this.manager.setDesired(await desiredState(services, environment));
    await this.manager.start();
    return this.settle();
  }

  async settle(): Promise<Settled> {
    const started = performance.now();
    const result = await this.manager.settle({ timeoutMs: SETTLE_TIMEOUT_MS, ready: true });
    await this.recorder?.flush();
    return { ...result, ms: performance.now() - started };
  }

  statusOf(key: string): ResourceStatus | undefined {
    const [kind, ...name] = key.split("/");
    return this.manager.status().find((s) => s.kind === kind && s.name === name.join("/"));
  }

  async close(): Promise<void> {
    await this.manager.stop();
    await this.recorder?.flush();
    this.store.close();
  }
}

/** The resource a mutating call was made for: its reason starts with it, as plan names it. */
const resourceOf = (call: FakeCall) => (call.reason ?? "").split(":")[0]!;

/** Mutating calls as `<operation> <resource>` -> how many, failed ones marked. */
function tally(calls: readonly FakeCall[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of calls) {
    const key = `${c.operation} ${resourceOf(c)}${c.outcome === "error" ? " (error)" : ""}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The world as the table states it: containers as `<service>/<slot> <state> <image>`, networks and volumes by name. */
function worldOf(world: FakeWorld) {
  return {
    containers: world
      .containers()
      .map((c) => `${c.service}/${c.slot} ${c.state} ${c.image}`)
      .sort(),
    networks: world
      .networks()
      .map((n) => n.name)
      .sort(),
    volumes: world
      .volumes()
      .map((v) => v.name)
      .sort(),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `find` returns something (every 5 ms, up to 2 s). */
async function until<T>(find: () => T | undefined): Promise<T> {
  for (let waited = 0; waited < 2_000; waited += 5) {
    const found = find();
    if (found !== undefined) return found;
    await sleep(5);
  }
  throw new Error("the world never got there");
}

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

interface Scenario {
  name: string;
  /** Images on the target from the start. */
  images?: string[];
  /** What the run's log keeps (default warn: logging costs time in a table of rows run at once). */
  logLevel?: LogLevel;
  /** Whether a Recorder (events, deployments' audit, resource rows) listens, as in the daemon; rows that read events need it. */
  recorded?: boolean;
  /** The world before Berth ever looks: objects made by hand. */
  world?: (world: FakeWorld) => Promise<void>;
  /** Applied and settled first, as an earlier version of the manifests. */
  before?: Services;
  /** Scripted once `before` settled, before the step: behaviours, failures, new images. */
  given?: (world: FakeWorld) => void;
  /** Runs alongside the step's apply: what the world does while Berth works. */
  during?: (world: FakeWorld) => Promise<void>;
  /** The manifests of the step under test. */
  services: Services;
  /** The step's Environment spec (beyond project and target); `before` uses none. */
  environment?: Spec;
  expected: {
    ok: boolean;
    /**
     * The plan foresees a rollout that then fails: what it would have released after the rollout stays
     * (the rolled-back revision still uses it), so the mutated resources are a subset of the planned ones.
     */
    planForeseesSuccess?: boolean;
    /** `<resource> <action>`, as plan names them; apply then mutates exactly these resources. */
    plan: string[];
    /** What plan says it cannot plan (default none). */
    planErrors?: RegExp[];
    containers: string[];
    networks: string[];
    volumes: string[];
    /** Mutations of the step: `<operation> <resource>` -> count. */
    mutations: Record<string, number>;
    /** Messages of status lines, by `<Kind>/<name>`. */
    status?: Record<string, RegExp>;
    check?: (run: Run, settled: Settled, mutations: FakeCall[]) => Promise<void>;
  };
}

const scenarios: Scenario[] = [
  {
    name: "a new environment with two services: network, volume and containers are created once",
    images: ["app:1"],
    services: { web: service({ replicas: 2 }), db: service({ volumes: dataVolume }) },
    expected: {
      ok: true,
      plan: ["Network/shop-dev create", "Volume/shop-dev-data create", "Service/dev/web create", "Service/dev/db create"],
      containers: ["db/0 running app:1", "web/0 running app:1", "web/1 running app:1"],
      networks: ["shop-dev"],
      volumes: ["shop-dev-data"],
      mutations: {
        "network.create Network/shop-dev": 1,
        "volume.create Volume/shop-dev-data": 1,
        "container.create Service/dev/web": 2,
        "container.start Service/dev/web": 2,
        "container.create Service/dev/db": 1,
        "container.start Service/dev/db": 1,
      },
      status: { "Service/dev/web": /^2\/2 running, 2 ready$/, "Environment/dev": /^2\/2 services running$/ },
      check: async (run) => {
        const rows = await run.store.deployments.list({ service: "Service/dev/db" });
        expect(rows.map((r) => r.status)).toEqual(["success"]);
      },
    },
  },
  {
    name: "an image change of a 2-replica rolling service: the new revision runs, the old one is gone, the deployment succeeded",
    images: ["app:1"],
    before: { web: service({ replicas: 2 }) },
    given: (world) => void world.addImage("app:2"),
    services: { web: service({ image: "app:2", replicas: 2 }) },
    expected: {
      ok: true,
      plan: ["Service/dev/web rollout"],
      containers: ["web/0 running app:2", "web/1 running app:2"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: {
        "container.create Service/dev/web": 2,
        "container.start Service/dev/web": 2,
        // Each old container is retired once its replacement is ready: taken off shop-dev (its one network), then stopped in the background.
        "network.disconnect Service/dev/web": 2,
        "container.stop Service/dev/web": 2,
        "container.remove Service/dev/web": 2,
        // The old containers were stopped by the rollout before clean-up removed them: Docker answers 304.
        "container.stop Service/dev/web (error)": 2,
        // No network.connect: without a health check a new container is created under the service's name, with nothing to join.
      },
      status: { "Service/dev/web": /^2\/2 running, 2 ready$/ },
      check: async (run) => {
        const [latest, first] = await run.store.deployments.list({ service: "Service/dev/web" });
        expect(latest).toMatchObject({ status: "success", image: "app:2", previousRevision: first!.revision });
        expect(first).toMatchObject({ status: "success", image: "app:1" });
      },
    },
  },
  {
    name: "a new revision whose container exits at once is rolled back: the old revision runs, settle ends at once with the failure",
    images: ["app:1", "app:bad"],
    recorded: true,
    before: { web: service({ replicas: 2 }) },
    given: (world) => void world.behave("app:bad", { exitCode: 1, logs: "boom" }),
    services: { web: service({ image: "app:bad", replicas: 2 }) },
    expected: {
      ok: false,
      plan: ["Service/dev/web rollout"],
      containers: ["web/0 running app:1", "web/1 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: {
        "container.create Service/dev/web": 1,
        "container.start Service/dev/web": 1,
        "container.stop Service/dev/web (error)": 1,
        "container.remove Service/dev/web": 1,
      },
      status: { "Service/dev/web": /^rollout of revision [0-9a-f]{12} rolled back: container shop-dev-web-\d-[0-9a-f]{7} exited with code 1$/ },
      check: async (run, settled) => {
        // Terminal: ended by the failure, not by the timeout.
        expect(settled.ms).toBeLessThan(1_500);
        expect(settled.pending.map((s) => `${s.kind}/${s.name}`)).toContain("Service/dev/web");
        expect(run.statusOf("Service/dev/web")).toMatchObject({ terminal: true, error: expect.stringContaining("exited with code 1") });
        const [latest, first] = await run.store.deployments.list({ service: "Service/dev/web" });
        expect(latest).toMatchObject({ status: "rolled_back", image: "app:bad", previousRevision: first!.revision, error: expect.stringContaining("exited with code 1") });
        const events = await run.store.events.list({ kind: "Service", name: "dev/web" });
        expect(events.filter((e) => e.reason === "RolledBack")).toHaveLength(1);
      },
    },
  },
  {
    name: "an image missing under imagePullPolicy Never ends settle at once naming the image; no container is made",
    images: [],
    services: { web: service({ image: "app:missing" }) },
    expected: {
      ok: false,
      plan: ["Network/shop-dev create"],
      planErrors: [/^image app:missing is not on DeploymentTarget\/local/],
      containers: [],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "network.create Network/shop-dev": 1 },
      status: { "Service/dev/web": /^image app:missing is not on DeploymentTarget\/local and imagePullPolicy is Never/ },
      check: async (run, settled) => {
        expect(settled.ms).toBeLessThan(1_500);
        expect(settled.pending).toEqual([expect.objectContaining({ kind: "Service", name: "dev/web", error: expect.stringContaining("app:missing") })]);
        expect(await run.store.deployments.list({ service: "Service/dev/web" })).toEqual([]);
      },
    },
  },
  {
    name: "a volume under Berth's name without its labels is adopted: not created, mounted, data kept, status says adopted",
    images: ["app:1"],
    world: async (world) => {
      await world.createVolume({ Name: "shop-dev-data" }, "made by hand");
      world.volume("shop-dev-data")!.files["marker"] = "kept-from-before";
      world.resetCalls();
    },
    services: { db: service({ volumes: dataVolume }) },
    expected: {
      ok: true,
      plan: ["Network/shop-dev create", "Service/dev/db create"],
      containers: ["db/0 running app:1"],
      networks: ["shop-dev"],
      volumes: ["shop-dev-data"],
      mutations: { "network.create Network/shop-dev": 1, "container.create Service/dev/db": 1, "container.start Service/dev/db": 1 },
      status: { "Environment/dev": /^1\/1 services running; volume shop-dev-data adopted \(created outside Berth, kept as it is\)$/ },
      check: async (run) => {
        expect(run.world.calls.filter((c) => c.operation === "volume.create").length).toBeLessThanOrEqual(1);
        expect(run.world.volume("shop-dev-data")).toEqual({ name: "shop-dev-data", labels: {}, files: { marker: "kept-from-before" } });
        const [db] = run.world.engine.containers.values();
        expect(db!.volumes).toEqual([{ name: "shop-dev-data", target: "/data", readOnly: false }]);
      },
    },
  },
  {
    name: "plan equals apply: scaling 1 -> 3 plans a scale of the service, and apply touches nothing else",
    images: ["app:1"],
    before: { web: service({ env: [{ name: "V", value: "1" }] }), db: service({ volumes: dataVolume }) },
    services: { web: service({ env: [{ name: "V", value: "1" }], replicas: 3 }), db: service({ volumes: dataVolume }) },
    expected: {
      ok: true,
      plan: ["Service/dev/web scale"],
      containers: ["db/0 running app:1", "web/0 running app:1", "web/1 running app:1", "web/2 running app:1"],
      networks: ["shop-dev"],
      volumes: ["shop-dev-data"],
      mutations: { "container.create Service/dev/web": 2, "container.start Service/dev/web": 2 },
      check: async (run) => {
        const plan = await run.plan({ web: service({ env: [{ name: "V", value: "1" }], replicas: 3 }), db: service({ volumes: dataVolume }) });
        expect(plan).toEqual({ changes: [], errors: [] });
      },
    },
  },
  {
    name: "plan equals apply: an env change plans a rollout naming spec.env, and apply rolls out only that service",
    images: ["app:1"],
    before: { web: service({ env: [{ name: "V", value: "1" }] }), db: service({ volumes: dataVolume }) },
    services: { web: service({ env: [{ name: "V", value: "2" }] }), db: service({ volumes: dataVolume }) },
    expected: {
      ok: true,
      plan: ["Service/dev/web rollout"],
      containers: ["db/0 running app:1", "web/0 running app:1"],
      networks: ["shop-dev"],
      volumes: ["shop-dev-data"],
      mutations: {
        "container.create Service/dev/web": 1,
        "container.start Service/dev/web": 1,
        // The old container retired: off shop-dev, then stopped in the background; clean-up's stop of it answers 304.
        "network.disconnect Service/dev/web": 1,
        "container.stop Service/dev/web": 1,
        "container.stop Service/dev/web (error)": 1,
        "container.remove Service/dev/web": 1,
      },
      check: async (run) => {
        const [web] = [...run.world.engine.containers.values()].filter((c) => c.labels[LABEL.service] === "web");
        expect(web!.options.Env).toContain("V=2");
      },
    },
  },
  {
    name: "a driver call that keeps failing is retried with growing delays until it converges; ReconcileFailed is written once",
    images: ["app:1"],
    recorded: true,
    // The runner reports a retry at warn once per cause, then at debug.
    logLevel: "debug",
    given: (world) => world.failNext("container.create", { statusCode: 500, message: "no space left on device" }, 5),
    services: { web: service({}) },
    expected: {
      ok: true,
      plan: ["Network/shop-dev create", "Service/dev/web create"],
      containers: ["web/0 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "network.create Network/shop-dev": 1, "container.create Service/dev/web (error)": 5, "container.create Service/dev/web": 1, "container.start Service/dev/web": 1 },
      status: { "Service/dev/web": /^1\/1 running, 1 ready$/ },
      check: async (run) => {
        const retries = run.logs.filter((l) => l.msg === "reconcile failed" && l.key === "Service/dev/web").map((l) => l.retryInMs);
        expect(retries).toEqual([5, 10, 20, 40, 80]);
        const failures = (await run.store.events.list({ kind: "Service", name: "dev/web" })).filter((e) => e.reason === "ReconcileFailed");
        expect(failures).toEqual([expect.objectContaining({ type: "Warning", count: 1, message: expect.stringContaining("no space left on device") })]);
        expect(run.statusOf("Service/dev/web")).toMatchObject({ phase: "Running", error: undefined });
      },
    },
  },
  {
    name: "a removed service: the environment prunes its containers, and it has no status line any more",
    images: ["app:1"],
    before: { web: service({}), worker: service({ replicas: 2 }) },
    services: { web: service({}) },
    expected: {
      ok: true,
      plan: ["Service/dev/worker delete"],
      containers: ["web/0 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "container.stop Service/dev/worker": 2, "container.remove Service/dev/worker": 2 },
      status: { "Environment/dev": /^1\/1 services running$/ },
      check: async (run) => {
        expect(run.manager.status().map((s) => `${s.kind}/${s.name}`)).toEqual(["DeploymentTarget/local", "Project/shop", "Environment/dev", "Service/dev/web"]);
        expect(run.manager.keyStatus("Service/dev/worker")).toBeUndefined();
      },
    },
  },
  {
    name: "a revision whose exec check turns unhealthy is rolled back, naming the check and what it last said",
    images: ["app:1", "app:2"],
    recorded: true,
    before: { web: service({ healthCheck: execCheck }) },
    // Docker runs the check: first results fail while the container is still `starting`, then it calls it unhealthy.
    given: (world) => void world.behave("app:2", { health: "starting", healthLog: [{ start: "2025-01-01T00:00:01Z", exitCode: 1, output: "db down" }] }),
    during: async (world) => {
      const fresh = await until(() => world.containers({ service: "web" }).find((c) => c.image === "app:2" && c.state === "running"));
      // Once Berth's prober has read the container's health log:
      await until(() => world.calls.find((c) => c.operation === "container.inspect" && c.object === fresh.id));
      // Created beside a serving container under a health check, and never healthy: it never answers to the service's name.
      expect(world.engine.container(fresh.id).networks.get("shop-dev")?.aliases).toEqual([]);
      world.setHealth(fresh.id, "unhealthy");
    },
    services: { web: service({ image: "app:2", healthCheck: execCheck }) },
    expected: {
      ok: false,
      plan: ["Service/dev/web rollout"],
      containers: ["web/0 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "container.create Service/dev/web": 1, "container.start Service/dev/web": 1, "container.stop Service/dev/web": 1, "container.remove Service/dev/web": 1 },
      status: { "Service/dev/web": /^rollout of revision [0-9a-f]{12} rolled back: container shop-dev-web-0-[0-9a-f]{7} is unhealthy; health check exec true last said: exit 1: db down$/ },
      check: async (run) => {
        const [latest] = await run.store.deployments.list({ service: "Service/dev/web" });
        expect(latest).toMatchObject({ status: "rolled_back", image: "app:2", error: expect.stringContaining("last said: exit 1: db down") });
        const failed = (await run.store.events.list({ kind: "Service", name: "dev/web" })).filter((e) => e.reason === "RolloutFailed");
        expect(failed).toEqual([expect.objectContaining({ type: "Warning", message: expect.stringContaining("db down") })]);
      },
    },
  },
  {
    name: "an image change of a 2-replica rolling service with a health check: each new container joins the service's name once healthy, and only then is its slot's old one retired",
    images: ["app:1", "app:2"],
    before: { web: service({ replicas: 2, healthCheck: execCheck }) },
    services: { web: service({ image: "app:2", replicas: 2, healthCheck: execCheck }) },
    expected: {
      ok: true,
      plan: ["Service/dev/web rollout"],
      containers: ["web/0 running app:2", "web/1 running app:2"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: {
        "container.create Service/dev/web": 2,
        "container.start Service/dev/web": 2,
        // Each new container is created beside serving ones, outside the service's name, and joins once healthy:
        // off shop-dev and on it again with the alias (a disconnect and a connect each). Each old container is then
        // retired: one more disconnect each. 2 joins + 2 retirements = 4 disconnects, 2 connects.
        "network.disconnect Service/dev/web": 4,
        "network.connect Service/dev/web": 2,
        // The retirements' background stops; clean-up's stops of the stopped containers answer 304.
        "container.stop Service/dev/web": 2,
        "container.stop Service/dev/web (error)": 2,
        "container.remove Service/dev/web": 2,
      },
      status: { "Service/dev/web": /^2\/2 running, 2 ready$/ },
      check: async (run, _settled, mutations) => {
        // Joined: every new container answers to the service's name.
        for (const c of run.world.containers({ service: "web" })) expect(run.world.engine.container(c.id).networks.get("shop-dev")?.aliases, c.name).toContain("web");
        // Join before retire, one slot at a time (maxSurge 1): a new container joins, then the old one leaves, then the next slot.
        const started = new Set(mutations.filter((c) => c.operation === "container.start").map((c) => c.object));
        const network = mutations.filter((c) => c.operation.startsWith("network.")).map((c) => `${started.has(c.object!.split("/").at(-1)) ? "new" : "old"} ${c.operation}`);
        expect(network).toEqual(["new network.disconnect", "new network.connect", "old network.disconnect", "new network.disconnect", "new network.connect", "old network.disconnect"]);
      },
    },
  },
  {
    name: "an image change under the recreate strategy: every old container stops before a new one is created",
    images: ["app:1", "app:2"],
    before: { web: service({ replicas: 2, update: { strategy: "recreate" } }) },
    services: { web: service({ image: "app:2", replicas: 2, update: { strategy: "recreate" } }) },
    expected: {
      ok: true,
      plan: ["Service/dev/web rollout"],
      containers: ["web/0 running app:2", "web/1 running app:2"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: {
        "container.create Service/dev/web": 2,
        "container.start Service/dev/web": 2,
        "container.stop Service/dev/web": 2,
        "container.stop Service/dev/web (error)": 2,
        "container.remove Service/dev/web": 2,
      },
      check: async (_run, _settled, mutations) => {
        // Never two at once: both old containers stop, then the new ones come up, then clean-up removes the old ones.
        expect(mutations.map((c) => `${c.operation}${c.outcome === "error" ? " (error)" : ""}`)).toEqual([
          "container.stop",
          "container.stop",
          "container.create",
          "container.start",
          "container.create",
          "container.start",
          "container.stop (error)",
          "container.remove",
          "container.stop (error)",
          "container.remove",
        ]);
      },
    },
  },
  {
    name: "a scale-down 3 -> 1 removes the replicas beyond the count",
    images: ["app:1"],
    before: { web: service({ replicas: 3 }) },
    services: { web: service({ replicas: 1 }) },
    expected: {
      ok: true,
      plan: ["Service/dev/web scale"],
      containers: ["web/0 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "container.stop Service/dev/web": 2, "container.remove Service/dev/web": 2 },
      status: { "Service/dev/web": /^1\/1 running, 1 ready$/ },
    },
  },
  {
    name: "drift: a container removed behind Berth's back is created again, and reported as drift",
    images: ["app:1"],
    recorded: true,
    before: { web: service({ replicas: 2 }) },
    given: (world) => world.delete(world.containers({ service: "web" })[0]!.id),
    services: { web: service({ replicas: 2 }) },
    expected: {
      ok: true,
      plan: ["Service/dev/web scale"],
      containers: ["web/0 running app:1", "web/1 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "container.create Service/dev/web": 1, "container.start Service/dev/web": 1 },
      check: async (run) => {
        const drift = (await run.store.events.list({ kind: "Service", name: "dev/web" })).filter((e) => e.reason === "DriftDetected");
        expect(drift).toEqual([expect.objectContaining({ type: "Warning", message: expect.stringContaining("replica 0: missing replica") })]);
      },
    },
  },
  {
    name: "drift: a container that exited under restartPolicy unless-stopped is started again",
    images: ["app:1"],
    before: { web: service({ replicas: 2 }) },
    given: (world) => world.crash(world.containers({ service: "web" })[0]!.id, 137),
    services: { web: service({ replicas: 2 }) },
    expected: {
      ok: true,
      plan: ["Service/dev/web start"],
      containers: ["web/0 running app:1", "web/1 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "container.start Service/dev/web": 1 },
    },
  },
  {
    name: "a new revision whose image is missing under Never: settle ends at once, the old revision keeps running, no rollout is opened",
    images: ["app:1"],
    before: { web: service({}) },
    services: { web: service({ image: "app:missing" }) },
    expected: {
      ok: false,
      plan: [],
      planErrors: [/^image app:missing is not on DeploymentTarget\/local/],
      containers: ["web/0 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: {},
      status: { "Service/dev/web": /^image app:missing is not on DeploymentTarget\/local and imagePullPolicy is Never/ },
      check: async (run, settled) => {
        expect(settled.ms).toBeLessThan(1_500);
        expect((await run.store.deployments.list({ service: "Service/dev/web" })).map((r) => [r.status, r.image])).toEqual([["success", "app:1"]]);
      },
    },
  },
  {
    name: "a suspended environment stops every container and removes none",
    images: ["app:1"],
    before: { web: service({ replicas: 2 }) },
    environment: { suspend: true },
    services: { web: service({ replicas: 2 }) },
    expected: {
      ok: true,
      plan: ["Service/dev/web stop"],
      containers: ["web/0 exited app:1", "web/1 exited app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "container.stop Service/dev/web": 2 },
      check: async (run) => {
        expect(run.manager.status().filter((s) => s.kind !== "DeploymentTarget").map((s) => [s.kind, s.phase])).toEqual([
          ["Project", "Stopped"],
          ["Environment", "Stopped"],
          ["Service", "Stopped"],
        ]);
      },
    },
  },
  {
    name: "a renamed service takes over its predecessor's host port; the old one is pruned under its own name",
    images: ["app:1"],
    before: { web: service({ ports: [{ container: 8080, host: 8088 }] }) },
    services: { site: service({ ports: [{ container: 8080, host: 8088 }] }) },
    expected: {
      ok: true,
      plan: ["Service/dev/site create", "Service/dev/web delete"],
      containers: ["site/0 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "container.create Service/dev/site": 1, "container.start Service/dev/site": 1, "container.stop Service/dev/web": 1, "container.remove Service/dev/web": 1 },
      check: async (run) => {
        const [site] = run.world.engine.containers.values();
        expect([...site!.published.values()]).toEqual([8088]);
      },
    },
  },
  {
    name: "an extra network: the environment creates it, the rollout's container joins both",
    images: ["app:1"],
    before: { web: service({}) },
    services: { web: service({ networks: ["backend"] }) },
    expected: {
      ok: true,
      plan: ["Network/shop-dev-backend create", "Service/dev/web rollout"],
      containers: ["web/0 running app:1"],
      networks: ["shop-dev", "shop-dev-backend"],
      volumes: [],
      mutations: {
        "network.create Network/shop-dev-backend": 1,
        // The new container joins the extra network at its creation, under the service's name (no health check: nothing to join later).
        "network.connect Service/dev/web": 1,
        "container.create Service/dev/web": 1,
        "container.start Service/dev/web": 1,
        // The retirement takes the old container off the networks it is on: shop-dev only (the old revision never joined shop-dev-backend).
        "network.disconnect Service/dev/web": 1,
        "container.stop Service/dev/web": 1,
        "container.stop Service/dev/web (error)": 1,
        "container.remove Service/dev/web": 1,
      },
      check: async (run, _settled, mutations) => {
        const [web] = run.world.engine.containers.values();
        expect([...web!.networks.keys()].sort()).toEqual(["shop-dev", "shop-dev-backend"]);
        expect(mutations.filter((c) => c.operation === "network.disconnect").map((c) => `${c.object!.split("/")[0]} ${c.outcome}`)).toEqual(["shop-dev ok"]);
      },
    },
  },
  {
    name: "an extra network no service joins any more is removed once the old revision's container has left it",
    images: ["app:1"],
    recorded: true,
    before: { web: service({ networks: ["backend"] }) },
    services: { web: service({}) },
    expected: {
      ok: true,
      plan: ["Network/shop-dev-backend delete", "Service/dev/web rollout"],
      containers: ["web/0 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      // No attempt while a running container is attached: Docker would refuse (403 active endpoints) and the environment would fail.
      mutations: {
        "network.remove Network/shop-dev-backend": 1,
        "container.create Service/dev/web": 1,
        "container.start Service/dev/web": 1,
        // The retirement takes the old container off every network it is on, shop-dev and shop-dev-backend: out of the
        // name everywhere. The environment removes the network once nothing is attached.
        "network.disconnect Service/dev/web": 2,
        "container.stop Service/dev/web": 1,
        "container.stop Service/dev/web (error)": 1,
        "container.remove Service/dev/web": 1,
      },
      check: async (run) => {
        expect((await run.store.events.list({ kind: "Environment", name: "dev" })).filter((e) => e.type === "Warning").map((e) => `${e.reason}: ${e.message}`)).toEqual([]);
      },
    },
  },
  {
    name: "a rolled-back change that also dropped an extra network: the old revision keeps its network, the environment does not fight it",
    images: ["app:1", "app:bad"],
    recorded: true,
    before: { web: service({ networks: ["backend"] }) },
    given: (world) => void world.behave("app:bad", { exitCode: 1 }),
    services: { web: service({ image: "app:bad" }) },
    expected: {
      ok: false,
      planForeseesSuccess: true,
      plan: ["Network/shop-dev-backend delete", "Service/dev/web rollout"],
      containers: ["web/0 running app:1"],
      networks: ["shop-dev", "shop-dev-backend"],
      volumes: [],
      mutations: { "container.create Service/dev/web": 1, "container.start Service/dev/web": 1, "container.stop Service/dev/web (error)": 1, "container.remove Service/dev/web": 1 },
      status: { "Service/dev/web": /rolled back: container shop-dev-web-0-[0-9a-f]{7} exited with code 1$/ },
      check: async (run) => {
        expect(run.statusOf("Environment/dev")).toMatchObject({ error: undefined });
        // The failed rollout degrades it for a moment (a Warning worth having); what must not happen is a fight over the network.
        expect((await run.store.events.list({ kind: "Environment", name: "dev" })).filter((e) => e.type === "Warning" && e.reason !== "Degraded").map((e) => `${e.reason}: ${e.message}`)).toEqual([]);
      },
    },
  },
  {
    name: "pruneVolumes: a volume no service mounts any more is removed once the old revision's container lets go of it",
    images: ["app:1"],
    recorded: true,
    before: { web: service({ volumes: dataVolume }) },
    environment: { pruneVolumes: true },
    services: { web: service({}) },
    expected: {
      ok: true,
      plan: ["Volume/shop-dev-data delete", "Service/dev/web rollout"],
      containers: ["web/0 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      // No attempt while a container still mounts it: Docker would refuse (409 in use) and the environment would fail.
      mutations: {
        "volume.remove Volume/shop-dev-data": 1,
        "container.create Service/dev/web": 1,
        "container.start Service/dev/web": 1,
        // The old container retired (off shop-dev, stopped in the background); clean-up removes it, then the volume goes.
        "network.disconnect Service/dev/web": 1,
        "container.stop Service/dev/web": 1,
        "container.stop Service/dev/web (error)": 1,
        "container.remove Service/dev/web": 1,
      },
      check: async (run) => {
        expect((await run.store.events.list({ kind: "Environment", name: "dev" })).filter((e) => e.type === "Warning").map((e) => `${e.reason}: ${e.message}`)).toEqual([]);
      },
    },
  },
  {
    name: "dependsOn service_healthy: plan shows both new services; apply starts the dependency first",
    images: ["app:1"],
    services: { db: service({ healthCheck: execCheck }), api: service({ dependsOn: [{ service: "db", condition: "service_healthy" }] }) },
    expected: {
      ok: true,
      plan: ["Network/shop-dev create", "Service/dev/db create", "Service/dev/api create"],
      containers: ["api/0 running app:1", "db/0 running app:1"],
      networks: ["shop-dev"],
      volumes: [],
      mutations: { "network.create Network/shop-dev": 1, "container.create Service/dev/db": 1, "container.start Service/dev/db": 1, "container.create Service/dev/api": 1, "container.start Service/dev/api": 1 },
      check: async (run) => {
        const order = run.world.mutations().map((c) => `${c.operation} ${resourceOf(c)}`);
        expect(order.indexOf("container.start Service/dev/db")).toBeLessThan(order.indexOf("container.create Service/dev/api"));
      },
    },
  },
];

/** One row, start to end: its own world, store and manager; throws what the first failing expectation throws. */
async function runRow(s: Scenario): Promise<void> {
  const run = await Run.open(s.images ?? [], s);
  try {
    await s.world?.(run.world);
    if (s.before) {
      const first = await run.apply(s.before);
      expect(first.pending).toEqual([]);
    }
    s.given?.(run.world);

    const plan = await run.plan(s.services, s.environment);
    const mark = run.world.calls.length;
    const during = s.during?.(run.world);
    const settled = await run.apply(s.services, s.environment);
    await during;
    const mutations = run.world.calls.slice(mark).filter((c) => c.mutating);
    expect(settled.ok, JSON.stringify(settled.pending)).toBe(s.expected.ok);
    const { containers, networks, volumes } = s.expected;
    expect(worldOf(run.world)).toEqual({ containers: [...containers].sort(), networks, volumes });
    expect(tally(mutations)).toEqual(s.expected.mutations);
    expect(plan.errors.map((e) => e.message)).toEqual((s.expected.planErrors ?? []).map((m) => expect.stringMatching(m)));
    expect(plan.changes.map((c) => `${c.resource} ${c.action}`).sort()).toEqual([...s.expected.plan].sort());
    // Plan equals apply: the resources planned are exactly those mutated.
    if (s.expected.planForeseesSuccess) expect(plan.changes.map((c) => c.resource)).toEqual(expect.arrayContaining(sorted(mutations.map(resourceOf))));
    else expect(sorted(mutations.map(resourceOf))).toEqual(sorted(plan.changes.map((c) => c.resource)));
    for (const [key, message] of Object.entries(s.expected.status ?? {})) expect(run.statusOf(key)?.message, key).toMatch(message);
    await s.expected.check?.(run, settled, mutations);

    // Settled means settled: another look at everything changes nothing.
    const again = run.world.calls.length;
    await run.manager.resync();
    await run.settle();
    expect(run.world.calls.slice(again).filter((c) => c.mutating)).toEqual([]);
  } finally {
    await run.close();
  }
}

describe("the reconcile path against the fake world", () => {
  // Every row at once (each on its own world, store and manager), beyond vitest's limit of 5 concurrent tests; each test reports its row.
  const rows = new Map<Scenario, Promise<void>>();
  beforeAll(() => {
    for (const s of scenarios) {
      const row = runRow(s);
      row.catch(() => {}); // reported by the row's test
      rows.set(s, row);
    }
  });
  // A row that gets stuck ends at its settle timeouts (3 x 5 s), not at the default test timeout.
  it.each(scenarios)("$name", (s) => rows.get(s)!, 20_000);
});
