import { chmodSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildDesiredModel, dependencyOrder, secretValuesOf, type DesiredModel, type DesiredService, type ModelOptions } from "../../../src/desired/model.ts";
import { loadManifests, type DesiredState } from "../../../src/manifests/load.ts";
import { baseProject, createManifestDir, type ManifestDir } from "../../support/manifest-dir.ts";
import { shopFiles, type Shop, type Spec } from "../../support/shop.ts";

// ---------------------------------------------------------------------------
// Helpers: manifests are written as plain objects, loaded by the real loader.
// ---------------------------------------------------------------------------

const dirs: ManifestDir[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.cleanup();
  vi.unstubAllEnvs();
});

/** Loads a fresh manifests directory with the real loader and insists that it is valid. */
async function load(files: Record<string, string>): Promise<{ dir: ManifestDir; state: DesiredState }> {
  const dir = createManifestDir(files);
  dirs.push(dir);
  const state = await reload(dir);
  return { dir, state };
}

async function reload(dir: ManifestDir): Promise<DesiredState> {
  const state = await loadManifests(dir.dir);
  expect(state.errors.map((e) => e.message)).toEqual([]);
  return state;
}

async function modelOf(shop: Shop, options?: ModelOptions): Promise<{ dir: ManifestDir; state: DesiredState; model: DesiredModel }> {
  const { dir, state } = await load(shopFiles(shop));
  return { dir, state, model: buildDesiredModel(state, options) };
}

function serviceOf(model: DesiredModel, environment: string, service: string): DesiredService {
  const found = model.services.get(`Service/${environment}/${service}`);
  if (!found) throw new Error(`Service/${environment}/${service} is not in the model: ${[...model.services.keys()].join(", ")}`);
  return found;
}

/** The model's view of Service `web` in Environment `dev`. */
async function web(shop: Shop, options?: ModelOptions): Promise<DesiredService> {
  return serviceOf((await modelOf(shop, options)).model, "dev", "web");
}

const MiB = 1024 ** 2;
const SECOND_NS = 1_000_000_000;
const SHA256 = /^[0-9a-f]{64}$/;

/** Labels Berth puts on every container of shop/dev/<service> on target local. */
const berthLabels = (service: string, environment = "dev") => ({
  "dev.berth.managed": "true",
  "dev.berth.target": "local",
  "dev.berth.project": "shop",
  "dev.berth.environment": environment,
  "dev.berth.service": service,
});

// ---------------------------------------------------------------------------

/** The labels a volume gets should Docker create it from a mount. */
const volumeOptions = (env: string, volume: string) => ({
  NoCopy: false,
  DriverConfig: { Name: "local", Options: {} },
  Labels: { "dev.berth.managed": "true", "dev.berth.target": "local", "dev.berth.project": "shop", "dev.berth.environment": env, "dev.berth.volume": `shop-${env}-${volume}` },
});

describe("names and keys", () => {
  it("derives keys and Docker names from project, environment and resource names", async () => {
    const { model } = await modelOf({
      services: {
        web: { image: "web:1", networks: ["backend"], volumes: [{ source: "uploads", target: "/uploads" }] },
        db: { image: "db:1", networks: ["backend", "metrics"], volumes: [{ source: "data", target: "/data" }] },
      },
      environments: { dev: {}, staging: {} },
    });

    expect(model.complete).toBe(true);
    expect([...model.targets.keys()]).toEqual(["local"]);
    expect([...model.projects.keys()]).toEqual(["shop"]);
    expect([...model.services.keys()].sort()).toEqual(["Service/dev/db", "Service/dev/web", "Service/staging/db", "Service/staging/web"]);

    for (const env of ["dev", "staging"]) {
      expect(model.environments.get(env)).toMatchObject({
        key: `Environment/${env}`,
        project: "shop",
        environment: env,
        target: "local",
        network: `shop-${env}`,
        extraNetworks: [`shop-${env}-backend`, `shop-${env}-metrics`],
        volumes: [`shop-${env}-data`, `shop-${env}-uploads`],
      });
      const db = serviceOf(model, env, "db");
      expect(db).toMatchObject({ key: `Service/${env}/db`, project: "shop", environment: env, service: "db", target: "local" });
      expect(db.extraNetworks).toEqual([`shop-${env}-backend`, `shop-${env}-metrics`]);
      expect(db.template.HostConfig?.NetworkMode).toBe(`shop-${env}`);
      expect(db.template.HostConfig?.Mounts).toEqual([{ Type: "volume", Source: `shop-${env}-data`, Target: "/data", ReadOnly: false, VolumeOptions: volumeOptions(env, "data") }]);
      expect(db.template.NetworkingConfig).toEqual({ EndpointsConfig: { [`shop-${env}`]: { Aliases: ["db"] } } });
    }
  });

  it("lists each environment's services in the environment and in the model", async () => {
    const { state } = await load(baseProject());
    const model = buildDesiredModel(state);
    expect(model.environments.get("dev")!.services.map((s) => s.key)).toEqual(["Service/dev/web"]);
    expect(model.environments.get("dev")).toMatchObject({ suspended: false, pruneVolumes: false, extraNetworks: [], volumes: [], labels: {} });
  });
});

describe("container template", () => {
  it("maps every container field of a Service onto Docker's configuration", async () => {
    const { dir, model } = await modelOf({
      project: { description: "test shop", labels: { team: "payments", cost: "shop" } },
      services: {
        web: {
          image: "web:1",
          command: ["node", "server.js"],
          entrypoint: ["/sbin/tini", "--"],
          workingDir: "/app",
          user: "1000:1000",
          hostname: "web-host",
          ports: [{ container: 8080, host: 8080 }, { container: 9090 }, { container: 5353, host: 5353, protocol: "udp", hostIP: "127.0.0.1" }],
          volumes: [
            { source: "data", target: "/data" },
            { type: "bind", source: "./config", target: "/etc/web", readOnly: true },
            { type: "tmpfs", target: "/tmp" },
          ],
          healthCheck: { exec: { command: ["curl", "-f", "http://localhost:8080/"] }, interval: "30s", timeout: "1500ms", retries: 5, startPeriod: "1m" },
          resources: { cpus: 0.5, memory: "256m", reservations: { memory: "128m" } },
          restartPolicy: "on-failure",
          stopGracePeriod: "1m30s",
          // A service label wins over a project label; Berth's own labels win over both.
          labels: { team: "web", tier: "frontend", "dev.berth.service": "spoofed" },
        },
      },
    });
    const web = serviceOf(model, "dev", "web");

    expect(web.error).toBeUndefined();
    expect(web.template).toEqual({
      Image: "web:1",
      Cmd: ["node", "server.js"],
      Entrypoint: ["/sbin/tini", "--"],
      WorkingDir: "/app",
      User: "1000:1000",
      Hostname: "web-host",
      Env: [],
      Labels: { team: "web", cost: "shop", tier: "frontend", ...berthLabels("web") },
      ExposedPorts: { "8080/tcp": {}, "9090/tcp": {}, "5353/udp": {} },
      Healthcheck: {
        Test: ["CMD", "curl", "-f", "http://localhost:8080/"],
        Interval: 30 * SECOND_NS,
        Timeout: 1_500_000_000,
        Retries: 5,
        StartPeriod: 60 * SECOND_NS,
      },
      StopTimeout: 90,
      HostConfig: {
        NetworkMode: "shop-dev",
        PortBindings: {
          "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }],
          "5353/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }],
        },
        Mounts: [
          { Type: "volume", Source: "shop-dev-data", Target: "/data", ReadOnly: false, VolumeOptions: volumeOptions("dev", "data") },
          { Type: "bind", Source: join(dir.dir, "config"), Target: "/etc/web", ReadOnly: true },
          { Type: "tmpfs", Source: "", Target: "/tmp", ReadOnly: false },
        ],
        RestartPolicy: { Name: "on-failure" },
        NanoCpus: 500_000_000,
        Memory: 256 * MiB,
        MemoryReservation: 128 * MiB,
      },
      NetworkingConfig: { EndpointsConfig: { "shop-dev": { Aliases: ["web"] } } },
    });
    expect(web).toMatchObject({
      replicas: 1,
      suspended: false,
      image: { ref: "web:1", pullPolicy: "IfNotPresent" },
      dependsOn: [],
      restartPolicy: "on-failure",
      stopGraceSeconds: 90,
      strategy: "recreate",
      extraNetworks: [],
      secretNames: [],
    });
    expect(web.specHash).toMatch(SHA256);
  });

  it("leaves unset fields unset and applies the schema's defaults", async () => {
    const web_ = await web({ services: { web: { image: "web:1" } } });
    expect(web_.template).toStrictEqual({
      Image: "web:1",
      Cmd: undefined,
      Entrypoint: undefined,
      WorkingDir: undefined,
      User: undefined,
      Hostname: undefined,
      Env: [],
      Labels: berthLabels("web"),
      ExposedPorts: undefined,
      Healthcheck: undefined,
      StopTimeout: 10,
      HostConfig: { NetworkMode: "shop-dev", PortBindings: undefined, Mounts: undefined, RestartPolicy: { Name: "unless-stopped" } },
      NetworkingConfig: { EndpointsConfig: { "shop-dev": { Aliases: ["web"] } } },
    });
    expect(web_).toMatchObject({ replicas: 1, restartPolicy: "unless-stopped", stopGraceSeconds: 10, strategy: "rolling" });
  });

  it.each([
    { policy: "no", name: "" },
    { policy: "always", name: "always" },
    { policy: "on-failure", name: "on-failure" },
    { policy: "unless-stopped", name: "unless-stopped" },
  ])("restartPolicy $policy -> RestartPolicy.Name '$name'", async ({ policy, name }) => {
    const service = await web({ services: { web: { image: "web:1", restartPolicy: policy } } });
    expect(service.template.HostConfig?.RestartPolicy).toEqual({ Name: name });
    expect(service.restartPolicy).toBe(policy);
  });

  it.each([
    { memory: "256m", bytes: 256 * MiB },
    { memory: "256Mi", bytes: 256 * MiB },
    { memory: "1.5g", bytes: 1536 * MiB },
    { memory: "1GiB", bytes: 1024 * MiB },
    { memory: "64k", bytes: 64 * 1024 },
    { memory: "1000", bytes: 1000 },
  ])("memory $memory -> $bytes bytes", async ({ memory, bytes }) => {
    const service = await web({ services: { web: { image: "web:1", resources: { cpus: 1.5, memory } } } });
    expect(service.template.HostConfig).toMatchObject({ NanoCpus: 1_500_000_000, Memory: bytes });
    expect(service.template.HostConfig?.MemoryReservation).toBeUndefined();
  });

  it.each([
    { kind: "http", check: { http: { path: "/healthz", port: 8080 } }, expected: { http: { method: "GET", path: "/healthz", port: 8080 } } },
    { kind: "tcp", check: { tcp: { port: 5432 } }, expected: { tcp: { port: 5432 } } },
  ])("a $kind health check is probed by Berth, not turned into a Docker Healthcheck", async ({ check, expected }) => {
    const service = await web({ services: { web: { image: "web:1", healthCheck: check } } });
    expect(service.template.Healthcheck).toBeUndefined();
    expect(service.healthCheck).toEqual({ ...expected, interval: "10s", timeout: "5s", retries: 3, startPeriod: "0s" });
  });
});

describe("environment overrides", () => {
  it("replace image, replicas, env, resources and ports in their environment only", async () => {
    const { model } = await modelOf({
      services: {
        web: {
          image: "web:1",
          replicas: 2,
          env: [{ name: "LOG_LEVEL", value: "info" }, { name: "PORT", value: "80" }],
          resources: { cpus: 0.5, memory: "256m" },
          ports: [{ container: 80 }],
        },
        db: { image: "db:1" },
      },
      environments: {
        dev: {},
        prod: {
          overrides: {
            web: {
              image: "web:2",
              replicas: 1,
              env: [{ name: "LOG_LEVEL", value: "warn" }],
              resources: { memory: "512m" },
              ports: [{ container: 80, host: 8081 }],
            },
          },
        },
      },
    });

    const dev = serviceOf(model, "dev", "web");
    expect(dev).toMatchObject({ replicas: 2, image: { ref: "web:1" }, strategy: "rolling" });
    expect(dev.template).toMatchObject({
      Image: "web:1",
      Env: ["LOG_LEVEL=info", "PORT=80"],
      ExposedPorts: { "80/tcp": {} },
      HostConfig: { NanoCpus: 500_000_000, Memory: 256 * MiB },
    });
    expect(dev.template.HostConfig?.PortBindings).toBeUndefined();

    const prod = serviceOf(model, "prod", "web");
    expect(prod).toMatchObject({ replicas: 1, image: { ref: "web:2", pullPolicy: "IfNotPresent" }, strategy: "recreate" });
    expect(prod.template).toMatchObject({
      Image: "web:2",
      Env: ["LOG_LEVEL=warn", "PORT=80"],
      ExposedPorts: { "80/tcp": {} },
      HostConfig: { PortBindings: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8081" }] }, Memory: 512 * MiB },
    });
    // The override's resources replace the Service's as a whole: no CPU limit is left over.
    expect(prod.template.HostConfig?.NanoCpus).toBeUndefined();
    expect(prod.specHash).not.toBe(dev.specHash);

    // A Service without an override is the same in both environments, apart from its names.
    const [devDb, prodDb] = [serviceOf(model, "dev", "db"), serviceOf(model, "prod", "db")];
    expect(prodDb.template).toEqual({
      ...devDb.template,
      Labels: { ...devDb.template.Labels, "dev.berth.environment": "prod" },
      HostConfig: { ...devDb.template.HostConfig, NetworkMode: "shop-prod" },
      NetworkingConfig: { EndpointsConfig: { "shop-prod": { Aliases: ["db"] } } },
    });
  });
});

describe("environment variables", () => {
  it("merge Environment envFiles < Environment variables < Service env < override env, sorted by name", async () => {
    const service = await web({
      files: { "secrets/dev.env": "ONLY_FILE=f\nVARS_OVER_FILE=f\nSVC_OVER_FILE=f\nOVR_OVER_ALL=f\n" },
      environments: {
        dev: {
          envFiles: ["secrets/dev.env"],
          variables: { VARS_OVER_FILE: "v", ONLY_VARS: "v", SVC_OVER_VARS: "v", OVR_OVER_ALL: "v" },
          overrides: { web: { env: [{ name: "OVR_OVER_ALL", value: "o" }] } },
        },
      },
      services: {
        web: {
          image: "web:1",
          env: [
            { name: "SVC_OVER_FILE", value: "s" },
            { name: "SVC_OVER_VARS", value: "s" },
            { name: "ONLY_SVC", value: "s" },
            { name: "OVR_OVER_ALL", value: "s" },
          ],
        },
      },
    });
    expect(service.template.Env).toEqual([
      "ONLY_FILE=f",
      "ONLY_SVC=s",
      "ONLY_VARS=v",
      "OVR_OVER_ALL=o",
      "SVC_OVER_FILE=s",
      "SVC_OVER_VARS=s",
      "VARS_OVER_FILE=v",
    ]);
    // Env file values are secret; a literal that replaces one is not.
    expect(service.secretNames).toEqual(["ONLY_FILE"]);
  });

  it("mark values from env files, valueFrom and secret literals as secret, and secretValuesOf returns exactly those values", async () => {
    const { model } = await modelOf(
      {
        files: {
          "secrets/dev.env": "SESSION_KEY=s3ss10n\n",
          "secrets/db.env": "DB_PASSWORD=p=ss\nUSERNAME=shop_user\n",
        },
        environments: { dev: { envFiles: ["secrets/dev.env"], variables: { REGION: "eu" } } },
        services: {
          web: {
            image: "web:1",
            env: [
              { name: "LOG_LEVEL", value: "debug" },
              { name: "DB_PASSWORD", valueFrom: { envFile: "secrets/db.env" } },
              { name: "DB_USER", valueFrom: { envFile: "secrets/db.env", key: "USERNAME" } },
              { name: "API_TOKEN", valueFrom: { daemonEnv: "SHOP_API_TOKEN" } },
              // valueFrom is always secret, whatever `secret` says.
              { name: "WEBHOOK", valueFrom: { daemonEnv: "SHOP_WEBHOOK" }, secret: false },
              { name: "SIGNING_KEY", value: "literal-secret", secret: true },
            ],
          },
          worker: { image: "worker:1", env: [{ name: "QUEUE", value: "jobs" }] },
        },
      },
      { daemonEnv: { SHOP_API_TOKEN: "tok-123", SHOP_WEBHOOK: "https://hooks.example/x", UNUSED: "not-a-secret" } },
    );

    const web_ = serviceOf(model, "dev", "web");
    expect(web_.error).toBeUndefined();
    expect(web_.template.Env).toEqual([
      "API_TOKEN=tok-123",
      "DB_PASSWORD=p=ss",
      "DB_USER=shop_user",
      "LOG_LEVEL=debug",
      "REGION=eu",
      "SESSION_KEY=s3ss10n",
      "SIGNING_KEY=literal-secret",
      "WEBHOOK=https://hooks.example/x",
    ]);
    expect(web_.secretNames).toEqual(["API_TOKEN", "DB_PASSWORD", "DB_USER", "SESSION_KEY", "SIGNING_KEY", "WEBHOOK"]);

    const worker = serviceOf(model, "dev", "worker");
    expect(worker.template.Env).toEqual(["QUEUE=jobs", "REGION=eu", "SESSION_KEY=s3ss10n"]);
    expect(worker.secretNames).toEqual(["SESSION_KEY"]);

    expect(secretValuesOf(model)).toEqual(new Set(["tok-123", "p=ss", "shop_user", "s3ss10n", "literal-secret", "https://hooks.example/x"]));
  });

  it("read daemon variables from options.daemonEnv, falling back to process.env", async () => {
    vi.stubEnv("BERTH_TEST_MODEL_TOKEN", "from-process");
    const shop: Shop = { services: { web: { image: "web:1", env: [{ name: "TOKEN", valueFrom: { daemonEnv: "BERTH_TEST_MODEL_TOKEN" } }] } } };
    const { state } = await load(shopFiles(shop));
    const env = (options?: ModelOptions) => serviceOf(buildDesiredModel(state, options), "dev", "web").template.Env;
    expect(env({ daemonEnv: { BERTH_TEST_MODEL_TOKEN: "from-options" } })).toEqual(["TOKEN=from-options"]);
    expect(env()).toEqual(["TOKEN=from-process"]);
  });
});

describe("undeployable services", () => {
  const errorCases: { what: string; web: Spec; files?: Record<string, string>; message: (dir: string) => unknown }[] = [
    {
      what: "a missing env file",
      web: { image: "web:1", env: [{ name: "DB_PASSWORD", valueFrom: { envFile: "secrets/missing.env" } }] },
      message: (dir) => `env file ${join(dir, "secrets/missing.env")} cannot be read; expected a dotenv file (KEY=value per line) at that path`,
    },
    {
      what: "a key missing from an env file",
      web: { image: "web:1", env: [{ name: "DB_PASSWORD", valueFrom: { envFile: "secrets/db.env", key: "PASSWORD" } }] },
      files: { "secrets/db.env": "OTHER=1\n" },
      message: (dir) => `env DB_PASSWORD reads key PASSWORD from ${join(dir, "secrets/db.env")}, which has no such key; expected a line PASSWORD=… in that file`,
    },
    {
      what: "an unset daemon variable",
      web: { image: "web:1", env: [{ name: "API_TOKEN", valueFrom: { daemonEnv: "SHOP_API_TOKEN" } }] },
      message: () => "env API_TOKEN reads daemon variable SHOP_API_TOKEN, which is not set; expected it in the environment berth runs with, e.g. SHOP_API_TOKEN=… berth run",
    },
    {
      what: "a missing build context",
      web: { build: { context: "images/missing" } },
      // Prefixed with the Service's location (file:line:col).
      message: (dir) => expect.stringMatching(new RegExp(`^${join(dir, "services/web.yaml")}:\\d+:\\d+: build context ${join(dir, "images/missing")} cannot be read \\(ENOENT: .*\\); expected a readable folder holding a Dockerfile$`)),
    },
    {
      what: "a build context that is a file",
      web: { build: { context: "images/web.txt" } },
      files: { "images/web.txt": "not a folder" },
      message: (dir) => expect.stringMatching(new RegExp(`^${join(dir, "services/web.yaml")}:\\d+:\\d+: build context ${join(dir, "images/web.txt")} cannot be read \\(not a directory\\); expected a readable folder holding a Dockerfile$`)),
    },
  ];

  it.each(errorCases)("$what sets service.error instead of throwing; other services are unaffected", async ({ web: webSpec, files, message }) => {
    const db = { image: "db:1", env: [{ name: "A", value: "1" }] };
    const { dir, model } = await modelOf({ services: { web: webSpec, db }, files }, { daemonEnv: {} });

    const broken = serviceOf(model, "dev", "web");
    expect(broken).toMatchObject({
      key: "Service/dev/web",
      replicas: 1,
      error: message(dir.dir),
      image: { ref: "", pullPolicy: "Never" },
      template: {},
      specHash: "",
      secretNames: [],
    });
    expect(model.environments.get("dev")!.services.map((s) => s.service)).toEqual(["db", "web"]);

    const healthy = await modelOf({ services: { web: { image: "web:1" }, db } }, { daemonEnv: {} });
    expect(serviceOf(model, "dev", "db")).toEqual(serviceOf(healthy.model, "dev", "db"));
    expect(serviceOf(model, "dev", "db").error).toBeUndefined();
  });

  it("a missing env file of the Environment makes every service of it undeployable", async () => {
    const { dir, model } = await modelOf({
      environments: { dev: { envFiles: ["secrets/gone.env"] }, prod: {} },
      services: { web: { image: "web:1" }, db: { image: "db:1" } },
    });
    const message = `env file ${join(dir.dir, "secrets/gone.env")} cannot be read; expected a dotenv file (KEY=value per line) at that path`;
    expect(serviceOf(model, "dev", "web").error).toBe(message);
    expect(serviceOf(model, "dev", "db").error).toBe(message);
    expect(serviceOf(model, "prod", "web").error).toBeUndefined();
  });
});

describe("spec hash", () => {
  const BASE_WEB: Spec = { image: "web:1", command: ["serve"], env: [{ name: "MODE", value: "a" }], ports: [{ container: 80 }] };
  const withWeb = (fields: Spec): Partial<Shop> => ({ services: { web: { ...BASE_WEB, ...fields } } });
  const hashOf = async (change: Partial<Shop> = {}) => {
    const service = await web({ services: { web: BASE_WEB }, ...change });
    expect(service.error).toBeUndefined();
    expect(service.specHash).toMatch(SHA256);
    return service.specHash;
  };

  it("is equal for identical manifests, loaded twice or from two directories", async () => {
    const { dir, state } = await load(baseProject());
    const first = serviceOf(buildDesiredModel(state), "dev", "web").specHash;
    const second = serviceOf(buildDesiredModel(await reload(dir)), "dev", "web").specHash;
    const elsewhere = serviceOf(buildDesiredModel((await load(baseProject())).state), "dev", "web").specHash;
    expect(first).toMatch(SHA256);
    expect(second).toBe(first);
    expect(elsewhere).toBe(first);
  });

  it.each<{ what: string; change: Partial<Shop> }>([
    { what: "a Service env value", change: withWeb({ env: [{ name: "MODE", value: "b" }] }) },
    { what: "an added Service env variable", change: withWeb({ env: [{ name: "MODE", value: "a" }, { name: "DEBUG", value: "1" }] }) },
    { what: "an Environment variable", change: { environments: { dev: { variables: { REGION: "eu" } } } } },
    { what: "an override env value", change: { environments: { dev: { overrides: { web: { env: [{ name: "MODE", value: "o" }] } } } } } },
    { what: "the image", change: withWeb({ image: "web:2" }) },
    { what: "an override image", change: { environments: { dev: { overrides: { web: { image: "web:2" } } } } } },
    { what: "the command", change: withWeb({ command: ["serve", "--verbose"] }) },
    { what: "the entrypoint", change: withWeb({ entrypoint: ["/bin/sh", "-c"] }) },
    { what: "the working directory", change: withWeb({ workingDir: "/srv" }) },
    { what: "the user", change: withWeb({ user: "nobody" }) },
    { what: "the hostname", change: withWeb({ hostname: "www" }) },
    { what: "a container port", change: withWeb({ ports: [{ container: 81 }] }) },
    { what: "a published host port", change: withWeb({ ports: [{ container: 80, host: 8080 }] }) },
    { what: "a port protocol", change: withWeb({ ports: [{ container: 80, protocol: "udp" }] }) },
    { what: "override ports", change: { environments: { dev: { overrides: { web: { ports: [{ container: 80, host: 8080 }] } } } } } },
    { what: "a volume", change: withWeb({ volumes: [{ source: "data", target: "/data" }] }) },
    { what: "an extra network", change: withWeb({ networks: ["backend"] }) },
    { what: "an exec health check", change: withWeb({ healthCheck: { exec: { command: ["true"] } } }) },
    { what: "resources", change: withWeb({ resources: { memory: "256m" } }) },
    { what: "override resources", change: { environments: { dev: { overrides: { web: { resources: { cpus: 2 } } } } } } },
    { what: "the restart policy", change: withWeb({ restartPolicy: "always" }) },
    { what: "the stop grace period", change: withWeb({ stopGracePeriod: "30s" }) },
    { what: "a Service label", change: withWeb({ labels: { tier: "frontend" } }) },
    { what: "a Project label", change: { project: { description: "test shop", labels: { team: "payments" } } } },
    { what: "a secret literal's value", change: withWeb({ env: [{ name: "MODE", value: "a" }, { name: "TOKEN", value: "s3cr3t", secret: true }] }) },
    { what: "a bind mount", change: withWeb({ volumes: [{ type: "bind", source: "./config", target: "/etc/web" }] }) },
    { what: "a tmpfs mount", change: withWeb({ volumes: [{ type: "tmpfs", target: "/tmp" }] }) },
    { what: "an http health check", change: withWeb({ healthCheck: { http: { path: "/healthz", port: 80 } } }) },
    { what: "a tcp health check", change: withWeb({ healthCheck: { tcp: { port: 80 } } }) },
  ])("changes with $what", async ({ change }) => {
    expect(await hashOf(change)).not.toBe(await hashOf());
  });

  it("changes with the secret value, but never contains it", async () => {
    const secret = (value: string) => withWeb({ env: [{ name: "TOKEN", value, secret: true }] });
    const hash = await hashOf(secret("first-secret"));
    expect(await hashOf(secret("second-secret"))).not.toBe(hash);
    expect(hash).not.toContain("first-secret");
  });

  it.each<{ what: string; from: Spec; to: Spec }>([
    { what: "an http path", from: { http: { path: "/healthz", port: 80 } }, to: { http: { path: "/ready", port: 80 } } },
    { what: "an http port", from: { http: { path: "/healthz", port: 80 } }, to: { http: { path: "/healthz", port: 8080 } } },
    { what: "an http method", from: { http: { path: "/healthz", port: 80 } }, to: { http: { method: "HEAD", path: "/healthz", port: 80 } } },
    { what: "an http expected status", from: { http: { path: "/healthz", port: 80 } }, to: { http: { path: "/healthz", port: 80, expectStatus: 204 } } },
    { what: "an http body pattern", from: { http: { path: "/healthz", port: 80 } }, to: { http: { path: "/healthz", port: 80, bodyPattern: "ok" } } },
    { what: "a tcp port", from: { tcp: { port: 5432 } }, to: { tcp: { port: 5433 } } },
    { what: "the kind (http to tcp)", from: { http: { path: "/", port: 80 } }, to: { tcp: { port: 80 } } },
    { what: "the kind (exec to http)", from: { exec: { command: ["true"] } }, to: { http: { path: "/", port: 80 } } },
    { what: "an exec command", from: { exec: { command: ["true"] } }, to: { exec: { command: ["test", "-f", "/ready"] } } },
    ...(["http", "tcp", "exec"] as const).flatMap((kind) => {
      const probe = { http: { http: { path: "/", port: 80 } }, tcp: { tcp: { port: 80 } }, exec: { exec: { command: ["true"] } } }[kind];
      const check = `${kind === "tcp" ? "a" : "an"} ${kind} check`;
      return [
        { what: `${check}'s interval`, from: probe, to: { ...probe, interval: "30s" } },
        { what: `${check}'s timeout`, from: probe, to: { ...probe, timeout: "1s" } },
        { what: `${check}'s retries`, from: probe, to: { ...probe, retries: 5 } },
        { what: `${check}'s start period`, from: probe, to: { ...probe, startPeriod: "1m" } },
      ];
    }),
  ])("changes with $what", async ({ from, to }) => {
    expect(await hashOf(withWeb({ healthCheck: to }))).not.toBe(await hashOf(withWeb({ healthCheck: from })));
  });

  it("does not change when a health check's durations are spelled differently", async () => {
    const check = (interval: string, timeout: string, startPeriod: string) => withWeb({ healthCheck: { http: { path: "/", port: 80 }, interval, timeout, startPeriod } });
    expect(await hashOf(check("1m", "1s", "0s"))).toBe(await hashOf(check("60s", "1000ms", "0ms")));
  });

  it.each<{ what: string; change: Partial<Shop> }>([
    { what: "the Service's replicas", change: withWeb({ replicas: 3 }) },
    { what: "an override's replicas", change: { environments: { dev: { overrides: { web: { replicas: 0 } } } } } },
    { what: "a DeploymentTarget label", change: { target: { type: "local", labels: { region: "eu-west" } } } },
    { what: "the Project description", change: { project: { description: "a different description" } } },
    { what: "the Environment tier", change: { environments: { dev: { tier: "production" } } } },
    { what: "the update settings", change: withWeb({ update: { strategy: "recreate", maxSurge: 0 } }) },
    { what: "the update strategy", change: withWeb({ update: { strategy: "recreate" } }) },
    { what: "maxSurge", change: withWeb({ update: { maxSurge: 3 } }) },
    { what: "maxUnavailable", change: withWeb({ update: { maxUnavailable: 1 } }) },
    { what: "the rollout's health timeout", change: withWeb({ update: { healthTimeout: "10m" } }) },
    { what: "autoRollback", change: withWeb({ update: { autoRollback: false } }) },
    { what: "the Environment's suspension", change: { environments: { dev: { suspend: true } } } },
    { what: "the Environment's pruneVolumes", change: { environments: { dev: { pruneVolumes: true } } } },
    { what: "the Service's dependencies", change: { services: { web: { ...BASE_WEB, dependsOn: [{ service: "db" }] }, db: { image: "db:1" } } } },
  ])("does not change with $what", async ({ change }) => {
    expect(await hashOf(change)).toBe(await hashOf());
  });

  it("ignores the git revision, which is only a label on the template", async () => {
    const { state } = await load(baseProject());
    const at = (commit: string | undefined) => buildDesiredModel({ ...state, revision: commit ? { commit, dirty: false } : undefined });
    const [a, b, none] = [at("a".repeat(40)), at("b".repeat(40)), at(undefined)];

    expect(a.revision).toBe("a".repeat(40));
    expect(serviceOf(a, "dev", "web").template.Labels).toEqual({ ...berthLabels("web"), "dev.berth.revision": "a".repeat(40) });
    expect(serviceOf(b, "dev", "web").template.Labels?.["dev.berth.revision"]).toBe("b".repeat(40));
    expect(serviceOf(none, "dev", "web").template.Labels).toEqual(berthLabels("web"));
    expect(serviceOf(b, "dev", "web").specHash).toBe(serviceOf(a, "dev", "web").specHash);
    expect(serviceOf(none, "dev", "web").specHash).toBe(serviceOf(a, "dev", "web").specHash);
  });

  it("changes when a secret value is rotated", async () => {
    const shop: Shop = {
      files: { "secrets/dev.env": "TOKEN=old\n" },
      services: { web: { image: "web:1", env: [{ name: "TOKEN", valueFrom: { envFile: "secrets/dev.env" } }, { name: "API", valueFrom: { daemonEnv: "API_KEY" } }] } },
    };
    const { dir, state } = await load(shopFiles(shop));
    const hash = (s: DesiredState, apiKey: string) => serviceOf(buildDesiredModel(s, { daemonEnv: { API_KEY: apiKey } }), "dev", "web").specHash;
    const before = hash(state, "k1");

    expect(hash(state, "k1")).toBe(before);
    expect(hash(state, "k2")).not.toBe(before);
    dir.write("secrets/dev.env", "TOKEN=new\n");
    expect(hash(await reload(dir), "k1")).not.toBe(before);
  });
});

describe("built images", () => {
  const context = {
    "images/web/Dockerfile": "FROM busybox\nCOPY . /app\n",
    "images/web/server.js": "console.log('v1')\n",
    "images/web/lib/util.js": "export {}\n",
    "images/web/assets/logo.svg": "<svg/>\n",
    "images/web/.git/HEAD": "ref: refs/heads/main\n",
  };
  const shop = (build: Spec = { context: "images/web" }): Shop => ({ services: { web: { build } }, files: context });
  const imageOf = async (state: DesiredState) => serviceOf(buildDesiredModel(state), "dev", "web");

  it("are tagged berth-build/<project>-<service>:<12 hex> of the context, never pulled, with the context's files sorted", async () => {
    const { dir, model } = await modelOf(shop());
    const web_ = serviceOf(model, "dev", "web");
    expect(web_.error).toBeUndefined();
    expect(web_.image.ref).toMatch(/^berth-build\/shop-web:[0-9a-f]{12}$/);
    expect(web_.image).toEqual({
      ref: web_.image.ref,
      pullPolicy: "Never",
      build: { dir: join(dir.dir, "images/web"), files: ["Dockerfile", "assets/logo.svg", "lib/util.js", "server.js"], dockerfile: "Dockerfile" },
    });
    expect(web_.template.Image).toBe(web_.image.ref);
  });

  it("keep their tag while the context is unchanged and get a new one when a file changes", async () => {
    const { dir, state } = await load(shopFiles(shop()));
    const original = await imageOf(state);
    expect((await imageOf(await reload(dir))).image.ref).toBe(original.image.ref);

    dir.write("images/web/server.js", "console.log('v2')\n");
    const changed = await imageOf(await reload(dir));
    expect(changed.image.ref).toMatch(/^berth-build\/shop-web:[0-9a-f]{12}$/);
    expect(changed.image.ref).not.toBe(original.image.ref);
    expect(changed.specHash).not.toBe(original.specHash);

    dir.write("images/web/server.js", "console.log('v1')\n");
    expect((await imageOf(await reload(dir))).image.ref).toBe(original.image.ref);

    dir.write("images/web/lib/extra.js", "\n");
    const added = await imageOf(await reload(dir));
    expect(added.image.ref).not.toBe(original.image.ref);
    expect(added.image.build?.files).toEqual(["Dockerfile", "assets/logo.svg", "lib/extra.js", "lib/util.js", "server.js"]);
  });

  it("get a new tag when a build option changes", async () => {
    const refOf = async (build: Spec) => (await web(shop(build))).image;
    const plain = await refOf({ context: "images/web" });
    const withArgs = await refOf({ context: "images/web", args: { NODE_VERSION: "20" }, target: "runtime" });
    expect(withArgs.ref).not.toBe(plain.ref);
    expect(withArgs.build).toMatchObject({ args: { NODE_VERSION: "20" }, target: "runtime", dockerfile: "Dockerfile" });
  });

  it("keep their tag when build args are written in another order", async () => {
    const refOf = async (build: Spec) => (await web(shop(build))).image.ref;
    expect(await refOf({ context: "images/web", args: { A: "1", B: "2" } })).toBe(await refOf({ context: "images/web", args: { B: "2", A: "1" } }));
  });

  it("get a new tag when a file's mode changes, and keep links to folders as links (never followed)", async () => {
    const { dir, state } = await load(shopFiles(shop()));
    const original = await imageOf(state);
    chmodSync(join(dir.dir, "images/web/server.js"), 0o755);
    expect((await imageOf(await reload(dir))).image.ref).not.toBe(original.image.ref);
    symlinkSync(join(dir.dir, "images/web/lib"), join(dir.dir, "images/web/vendor"));
    const linked = await imageOf(await reload(dir));
    expect(linked.error).toBeUndefined();
    // Sent as Docker packs it: the link itself, not what it points at.
    expect(linked.image.build?.files).toContain("vendor");
    expect(linked.image.build?.files).not.toContain("vendor/util.js");
    rmSync(join(dir.dir, "images/web/vendor"));
    expect((await imageOf(await reload(dir))).image.ref).not.toBe(linked.image.ref);
  });

  it("give way to an Environment's image override, which is pulled as the Service says", async () => {
    const { model } = await modelOf({
      ...shop(),
      environments: { dev: {}, prod: { overrides: { web: { image: "registry.example/web:1.4" } } } },
    });
    expect(serviceOf(model, "prod", "web").image).toEqual({ ref: "registry.example/web:1.4", pullPolicy: "IfNotPresent" });
    expect(serviceOf(model, "dev", "web").image.pullPolicy).toBe("Never");
  });

  it("pass a pulled image's pull policy through", async () => {
    expect((await web({ services: { web: { image: "web:1", imagePullPolicy: "Always" } } })).image).toEqual({ ref: "web:1", pullPolicy: "Always" });
  });
});

describe("update strategy", () => {
  it.each<{ what: string; spec: Spec; strategy: "rolling" | "recreate" }>([
    { what: "no ports", spec: {}, strategy: "rolling" },
    { what: "only internal ports", spec: { ports: [{ container: 80 }, { container: 443 }] }, strategy: "rolling" },
    { what: "a host port", spec: { ports: [{ container: 80 }, { container: 443, host: 8443 }] }, strategy: "recreate" },
    { what: "a host port and explicit rolling", spec: { ports: [{ container: 80, host: 8080 }], update: { strategy: "rolling" } }, strategy: "rolling" },
    { what: "no host port and explicit recreate", spec: { ports: [{ container: 80 }], update: { strategy: "recreate" } }, strategy: "recreate" },
    // Two containers writing one named volume during an update lose data (issue 13, item 11).
    { what: "a named volume", spec: { volumes: [{ type: "volume", source: "data", target: "/data" }] }, strategy: "recreate" },
    { what: "a named volume among other mounts", spec: { volumes: [{ type: "tmpfs", target: "/tmp" }, { source: "data", target: "/data" }] }, strategy: "recreate" },
    { what: "a named volume and explicit rolling", spec: { volumes: [{ source: "data", target: "/data" }], update: { strategy: "rolling" } }, strategy: "rolling" },
    { what: "only a read-only named volume (no writer)", spec: { volumes: [{ source: "assets", target: "/assets", readOnly: true }] }, strategy: "rolling" },
    { what: "only a bind mount", spec: { volumes: [{ type: "bind", source: "./config", target: "/config", readOnly: true }] }, strategy: "rolling" },
    { what: "only a tmpfs mount", spec: { volumes: [{ type: "tmpfs", target: "/tmp" }] }, strategy: "rolling" },
  ])("is $strategy with $what", async ({ spec, strategy }) => {
    expect((await web({ services: { web: { image: "web:1", ...spec } } })).strategy).toBe(strategy);
  });

  it("follows an override's ports in that environment", async () => {
    const { model } = await modelOf({
      services: { web: { image: "web:1", ports: [{ container: 80 }] } },
      environments: { dev: {}, prod: { overrides: { web: { ports: [{ container: 80, host: 80 }] } } } },
    });
    expect(serviceOf(model, "dev", "web").strategy).toBe("rolling");
    expect(serviceOf(model, "prod", "web").strategy).toBe("recreate");
  });
});

describe("dependencyOrder", () => {
  const node = (service: string, ...deps: string[]) => ({ service, dependsOn: deps.map((d) => ({ service: d })) });
  const order = (...nodes: ReturnType<typeof node>[]) => dependencyOrder(nodes).map((n) => n.service);

  it.each([
    { what: "a chain", nodes: [node("web", "api"), node("api", "db"), node("db")], want: ["db", "api", "web"] },
    { what: "a diamond", nodes: [node("top", "left", "right"), node("right", "base"), node("left", "base"), node("base")], want: ["base", "left", "right", "top"] },
    { what: "independent services (input order kept)", nodes: [node("b"), node("a"), node("c")], want: ["b", "a", "c"] },
    { what: "a dependency outside the list (skipped)", nodes: [node("web", "elsewhere"), node("db")], want: ["web", "db"] },
  ])("puts dependencies first: $what", ({ nodes, want }) => {
    expect(order(...nodes)).toEqual(want);
  });

  it("orders each environment's services, keeping the declared conditions", async () => {
    const { model } = await modelOf({
      services: {
        api: { image: "api:1", dependsOn: [{ service: "db", condition: "service_healthy" }, { service: "cache" }] },
        cache: { image: "cache:1", dependsOn: [{ service: "db" }] },
        db: { image: "db:1", healthCheck: { tcp: { port: 5432 } } },
        web: { image: "web:1", dependsOn: [{ service: "api" }] },
      },
    });
    expect(model.environments.get("dev")!.services.map((s) => s.service)).toEqual(["db", "cache", "api", "web"]);
    expect(serviceOf(model, "dev", "api").dependsOn).toEqual([
      { service: "db", condition: "service_healthy" },
      { service: "cache", condition: "service_started" },
    ]);
  });
});

describe("suspended environments", () => {
  it("mark every one of their services suspended, and only theirs", async () => {
    const { model } = await modelOf({
      services: { web: { image: "web:1" }, db: { image: "db:1" } },
      environments: { dev: { suspend: true }, prod: {} },
    });
    expect(model.environments.get("dev")!.suspended).toBe(true);
    expect(model.environments.get("dev")!.services.map((s) => [s.service, s.suspended])).toEqual([["db", true], ["web", true]]);
    expect(model.environments.get("prod")!.suspended).toBe(false);
    expect(model.environments.get("prod")!.services.map((s) => [s.service, s.suspended])).toEqual([["db", false], ["web", false]]);
    // Suspension stops containers; it does not change what they are.
    expect(serviceOf(model, "dev", "web").error).toBeUndefined();
    expect(serviceOf(model, "dev", "web").template.Image).toBe("web:1");
  });
});
