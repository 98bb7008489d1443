import { afterEach, describe, expect, it } from "vitest";
import { buildDesiredModel, type DesiredEnvironment, type DesiredModel } from "../../../src/desired/model.ts";
import { loadManifests } from "../../../src/manifests/load.ts";
import { compareEnvironments, type FieldDifference, type ParityReport, type ServiceParity } from "../../../src/parity/diff.ts";
import { createManifestDir, type ManifestDir } from "../../support/manifest-dir.ts";
import { shopFiles as shopFilesOf, type Shop, type Spec } from "../../support/shop.ts";

// ---------------------------------------------------------------------------
// Helpers: two Environments (dev and prod) of Project `shop`, written as plain
// objects, loaded by the real loader and resolved by the real model builder.
// ---------------------------------------------------------------------------

/** Two Environments, dev and prod, unless a test names others. */
const shopFiles = (shop: Shop) => shopFilesOf({ environments: { dev: {}, prod: {} }, ...shop });

const dirs: ManifestDir[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.cleanup();
});

async function modelOf(shop: Shop, daemonEnv: NodeJS.ProcessEnv = {}): Promise<DesiredModel> {
  const dir = createManifestDir(shopFiles(shop));
  dirs.push(dir);
  const state = await loadManifests(dir.dir);
  expect(state.errors.map((e) => e.message)).toEqual([]);
  return buildDesiredModel(state, { daemonEnv });
}

function environmentOf(model: DesiredModel, name: string): DesiredEnvironment {
  const found = model.environments.get(name);
  if (!found) throw new Error(`Environment/${name} is not in the model: ${[...model.environments.keys()].join(", ")}`);
  for (const s of found.services) expect(s.error, `${name}/${s.service}`).toBeUndefined();
  return found;
}

/** The parity report of Environment dev against Environment prod. */
async function compare(shop: Shop, daemonEnv?: NodeJS.ProcessEnv): Promise<ParityReport> {
  const model = await modelOf(shop, daemonEnv);
  return compareEnvironments(environmentOf(model, "dev"), environmentOf(model, "prod"));
}

function serviceIn(report: ParityReport, service: string): ServiceParity {
  const found = report.services.find((s) => s.service === service);
  if (!found) throw new Error(`${service} is not in the report: ${report.services.map((s) => s.service).join(", ")}`);
  return found;
}

const noDifferences = { identical: 0, different: 0, "missing in A": 0, "missing in B": 0, error: 0, warning: 0, info: 0 };

const MiB = 1024 ** 2;

// ---------------------------------------------------------------------------

describe("compareEnvironments: identical environments", () => {
  it("reports every service identical, with no severity, and identical=true", async () => {
    const report = await compare({
      services: {
        web: { image: "web:1", replicas: 2, ports: [{ container: 80 }], env: [{ name: "LOG_LEVEL", value: "info" }], routing: { port: 80, host: "shop.example.com" } },
        api: { image: "api:1", resources: { cpus: 0.5, memory: "256m" }, dependsOn: [{ service: "db" }] },
        db: { image: "db:1", volumes: [{ source: "data", target: "/data" }], healthCheck: { tcp: { port: 5432 } } },
      },
      environments: { dev: { variables: { REGION: "eu" } }, prod: { variables: { REGION: "eu" } } },
    });

    expect(report).toEqual({
      project: "shop",
      a: "dev",
      b: "prod",
      // Sorted by name, not in dependency order.
      services: [
        { service: "api", status: "identical", severity: undefined, differences: [] },
        { service: "db", status: "identical", severity: undefined, differences: [] },
        { service: "web", status: "identical", severity: undefined, differences: [] },
      ],
      summary: { ...noDifferences, identical: 3 },
      identical: true,
    });
  });

  it("does not count names that differ only because the environments differ (labels, network, router name)", async () => {
    const report = await compare({
      services: { web: { image: "web:1", networks: ["backend"], volumes: [{ source: "data", target: "/data" }], routing: { port: 80 } } },
      targets: { local: { type: "local", domain: "example.test" } },
    });
    expect(report.identical).toBe(true);
    expect(serviceIn(report, "web")).toEqual({ service: "web", status: "identical", severity: undefined, differences: [] });
  });

  it("compares an environment with itself as identical", async () => {
    const model = await modelOf({ services: { web: { image: "web:1" } } });
    const dev = environmentOf(model, "dev");
    const report = compareEnvironments(dev, dev);
    expect(report).toMatchObject({ a: "dev", b: "dev", identical: true, summary: { ...noDifferences, identical: 1 } });
  });
});

describe("compareEnvironments: one field differs", () => {
  it.each<{ what: string; service?: Spec; dev?: Spec; prod?: Spec; targets?: Record<string, Spec>; differences: FieldDifference[] }>([
    {
      what: "an image override is an error showing both images",
      prod: { overrides: { web: { image: "web:2" } } },
      differences: [{ path: "image", a: "web:1", b: "web:2", severity: "error" }],
    },
    {
      what: "replicas are a warning",
      service: { replicas: 2 },
      prod: { overrides: { web: { replicas: 3 } } },
      differences: [{ path: "replicas", a: "2", b: "3", severity: "warning" }],
    },
    {
      what: "a memory limit is a resources warning showing both values",
      service: { resources: { memory: "256m" } },
      prod: { overrides: { web: { resources: { memory: "512m" } } } },
      differences: [{ path: "resources", a: JSON.stringify({ memory: 256 * MiB }), b: JSON.stringify({ memory: 512 * MiB }), severity: "warning" }],
    },
    {
      what: "a CPU limit is a resources warning",
      service: { resources: { cpus: 0.5 } },
      prod: { overrides: { web: { resources: { cpus: 2 } } } },
      differences: [{ path: "resources", a: JSON.stringify({ nanoCpus: 500_000_000 }), b: JSON.stringify({ nanoCpus: 2_000_000_000 }), severity: "warning" }],
    },
    {
      what: "a memory reservation is a resources warning",
      service: { resources: { reservations: { memory: "64m" } } },
      prod: { overrides: { web: { resources: { reservations: { memory: "128m" } } } } },
      differences: [{ path: "resources", a: JSON.stringify({ memoryReservation: 64 * MiB }), b: JSON.stringify({ memoryReservation: 128 * MiB }), severity: "warning" }],
    },
    {
      what: "a published host port is a ports warning",
      service: { ports: [{ container: 80, host: 8080 }] },
      prod: { overrides: { web: { ports: [{ container: 80, host: 8081 }] } } },
      // The text of a port list is free; it must show each side's host port.
      differences: [{ path: "ports", a: expect.stringMatching(/^(?!.*8081).*8080/), b: expect.stringMatching(/^(?!.*8080).*8081/), severity: "warning" }],
    },
    {
      what: "an internal container port is a ports warning",
      service: { ports: [{ container: 80 }] },
      prod: { overrides: { web: { ports: [{ container: 81 }] } } },
      differences: [{ path: "ports", a: expect.stringMatching(/^(?!.*\b81\/tcp).*\b80\/tcp/), b: expect.stringMatching(/^(?!.*\b80\/tcp).*\b81\/tcp/), severity: "warning" }],
    },
    {
      what: "an env value set by an override is info on env.NAME",
      service: { env: [{ name: "LOG_LEVEL", value: "info" }] },
      prod: { overrides: { web: { env: [{ name: "LOG_LEVEL", value: "warn" }] } } },
      differences: [{ path: "env.LOG_LEVEL", a: "info", b: "warn", severity: "info" }],
    },
    {
      what: "an Environment variable's value is info on env.NAME",
      dev: { variables: { LOG_LEVEL: "debug" } },
      prod: { variables: { LOG_LEVEL: "info" } },
      differences: [{ path: "env.LOG_LEVEL", a: "debug", b: "info", severity: "info" }],
    },
    {
      what: "a variable set only in B is info, (unset) in A",
      prod: { variables: { FEATURE_X: "on" } },
      differences: [{ path: "env.FEATURE_X", a: "(unset)", b: "on", severity: "info" }],
    },
    {
      what: "a variable set only in A is info, (unset) in B",
      dev: { overrides: { web: { env: [{ name: "DEBUG", value: "1" }] } } },
      differences: [{ path: "env.DEBUG", a: "1", b: "(unset)", severity: "info" }],
    },
    {
      what: "an empty value is not the same as no variable",
      dev: { variables: { EMPTY: "" } },
      differences: [{ path: "env.EMPTY", a: "", b: "(unset)", severity: "info" }],
    },
    {
      what: "the routing rule differs with the Environments' domains (info)",
      service: { routing: { port: 80 } },
      dev: { domain: "lvh.me" },
      prod: { domain: "example.com" },
      differences: [{ path: "routing", a: "Host(`web.lvh.me`)", b: "Host(`web.example.com`)", severity: "info" }],
    },
    {
      what: "the routing rule is (unset) where no domain is known",
      service: { routing: { port: 80, path: "/api" } },
      prod: { domain: "example.com" },
      differences: [{ path: "routing", a: "(unset)", b: "Host(`web.example.com`) && PathPrefix(`/api`)", severity: "info" }],
    },
    {
      what: "an Environment's domain is compared against its target's",
      service: { routing: { port: 80 } },
      targets: { local: { type: "local", domain: "lvh.me" } },
      prod: { domain: "example.com" },
      differences: [{ path: "routing", a: "Host(`web.lvh.me`)", b: "Host(`web.example.com`)", severity: "info" }],
    },
  ])("$what", async ({ service = {}, dev = {}, prod = {}, targets, differences }) => {
    const report = await compare({
      services: { web: { image: "web:1", ...service }, db: { image: "db:1" } },
      environments: { dev, prod },
      ...(targets ? { targets } : {}),
    });
    const severity = differences[0]!.severity;
    expect(serviceIn(report, "web")).toEqual({ service: "web", status: "different", severity, differences });
    // Variables of the Environment reach every service; everything else only web.
    const envWide = Boolean(dev.variables || prod.variables);
    expect(serviceIn(report, "db").status).toBe(envWide ? "different" : "identical");
    expect(report.identical).toBe(false);
    expect(report.summary).toEqual({
      ...noDifferences,
      identical: envWide ? 0 : 1,
      different: envWide ? 2 : 1,
      [severity]: envWide ? 2 : 1,
    });
  });

  it("a host port added in one environment also changes the derived update strategy (info)", async () => {
    const report = await compare({
      services: { web: { image: "web:1", ports: [{ container: 80 }] } },
      environments: { dev: {}, prod: { overrides: { web: { ports: [{ container: 80, host: 8080 }] } } } },
    });
    const web = serviceIn(report, "web");
    expect(web.severity).toBe("warning");
    expect(web.differences).toContainEqual({ path: "ports", a: expect.not.stringContaining("8080"), b: expect.stringContaining("8080"), severity: "warning" });
    expect(web.differences.find((d) => d.path === "update")).toMatchObject({ severity: "info", a: expect.stringContaining('"strategy":"rolling"'), b: expect.stringContaining('"strategy":"recreate"') });
  });

  // Each of these leaves the two environments' containers shaped differently, in a part of a field that is easy to miss.
  it("a CPU reservation (CpuShares) is a resources warning", async () => {
    const model = await modelOf({
      services: { web: { image: "web:1", resources: { reservations: { cpus: 0.5 } } } },
      environments: { dev: {}, prod: { overrides: { web: { resources: { reservations: { cpus: 2 } } } } } },
    });
    const report = compareEnvironments(environmentOf(model, "dev"), environmentOf(model, "prod"));
    // The containers really differ...
    expect(model.services.get("Service/dev/web")!.template.HostConfig?.CpuShares).toBe(512);
    expect(model.services.get("Service/prod/web")!.template.HostConfig?.CpuShares).toBe(2048);
    // ...so the report must say so.
    expect(serviceIn(report, "web")).toMatchObject({ status: "different", severity: "warning", differences: [expect.objectContaining({ path: "resources", severity: "warning" })] });
    expect(report.identical).toBe(false);
  });

  it("an internal port is a ports warning even when the service also publishes a host port", async () => {
    const report = await compare({
      services: { web: { image: "web:1", ports: [{ container: 80, host: 8080 }, { container: 9090 }] } },
      // On two engines, so that both may publish host port 8080.
      targets: { local: { type: "local" }, other: { type: "local", docker: { host: "tcp://other.example:2375" } } },
      environments: { dev: {}, prod: { target: "other", overrides: { web: { ports: [{ container: 80, host: 8080 }, { container: 9091 }] } } } },
    });
    expect(serviceIn(report, "web")).toMatchObject({ status: "different", severity: "warning", differences: [expect.objectContaining({ path: "ports", severity: "warning" })] });
    expect(serviceIn(report, "web").differences[0]).toMatchObject({ a: expect.stringContaining("9090"), b: expect.stringContaining("9091") });
    expect(report.identical).toBe(false);
  });
});

describe("compareEnvironments: secrets", () => {
  const DEV_SECRET = "dev-s3cret-Value-1";
  const PROD_SECRET = "prod-s3cret-Value-2";

  /** The report must hold no secret value, anywhere. */
  function expectNoSecrets(report: ParityReport, ...secrets: string[]) {
    const json = JSON.stringify(report);
    for (const secret of secrets) expect(json).not.toContain(secret);
  }

  it("an env file value that differs is info with both sides masked", async () => {
    const report = await compare({
      services: { web: { image: "web:1" } },
      environments: { dev: { envFiles: ["secrets/dev.env"] }, prod: { envFiles: ["secrets/prod.env"] } },
      files: { "secrets/dev.env": `DB_PASSWORD=${DEV_SECRET}\n`, "secrets/prod.env": `DB_PASSWORD=${PROD_SECRET}\n` },
    });
    expect(serviceIn(report, "web")).toEqual({
      service: "web",
      status: "different",
      severity: "info",
      differences: [{ path: "env.DB_PASSWORD", a: "***", b: "***", severity: "info" }],
    });
    expectNoSecrets(report, DEV_SECRET, PROD_SECRET);
  });

  it("a valueFrom daemonEnv value that differs is info with both sides masked", async () => {
    const report = await compare(
      {
        services: { web: { image: "web:1" } },
        environments: {
          dev: { overrides: { web: { env: [{ name: "API_TOKEN", valueFrom: { daemonEnv: "DEV_TOKEN" } }] } } },
          prod: { overrides: { web: { env: [{ name: "API_TOKEN", valueFrom: { daemonEnv: "PROD_TOKEN" } }] } } },
        },
      },
      { DEV_TOKEN: DEV_SECRET, PROD_TOKEN: PROD_SECRET },
    );
    expect(serviceIn(report, "web").differences).toEqual([{ path: "env.API_TOKEN", a: "***", b: "***", severity: "info" }]);
    expectNoSecrets(report, DEV_SECRET, PROD_SECRET);
  });

  it("a valueFrom envFile value that differs is masked", async () => {
    const report = await compare({
      services: { web: { image: "web:1" } },
      environments: {
        dev: { overrides: { web: { env: [{ name: "DB_PASSWORD", valueFrom: { envFile: "secrets/dev.env" } }] } } },
        prod: { overrides: { web: { env: [{ name: "DB_PASSWORD", valueFrom: { envFile: "secrets/prod.env", key: "PASSWORD" } }] } } },
      },
      files: { "secrets/dev.env": `DB_PASSWORD=${DEV_SECRET}\n`, "secrets/prod.env": `PASSWORD=${PROD_SECRET}\n` },
    });
    expect(serviceIn(report, "web").differences).toEqual([{ path: "env.DB_PASSWORD", a: "***", b: "***", severity: "info" }]);
    expectNoSecrets(report, DEV_SECRET, PROD_SECRET);
  });

  it("a secret on one side only shows *** there and (unset) on the other", async () => {
    const report = await compare({
      services: { web: { image: "web:1" } },
      environments: { dev: {}, prod: { envFiles: ["secrets/prod.env"] } },
      files: { "secrets/prod.env": `SESSION_KEY=${PROD_SECRET}\n` },
    });
    expect(serviceIn(report, "web").differences).toEqual([{ path: "env.SESSION_KEY", a: "(unset)", b: "***", severity: "info" }]);
    expectNoSecrets(report, PROD_SECRET);
  });

  it("a value that is secret on one side only is masked on both sides", async () => {
    const report = await compare({
      services: { web: { image: "web:1" } },
      environments: {
        dev: { variables: { API_KEY: "plain-dev-key" } },
        prod: { overrides: { web: { env: [{ name: "API_KEY", value: PROD_SECRET, secret: true }] } } },
      },
    });
    expect(serviceIn(report, "web").differences).toEqual([{ path: "env.API_KEY", a: "***", b: "***", severity: "info" }]);
    expectNoSecrets(report, PROD_SECRET, "plain-dev-key");
  });

  it("a secret equal on both sides is no difference", async () => {
    const report = await compare(
      {
        services: { web: { image: "web:1", env: [{ name: "API_TOKEN", valueFrom: { daemonEnv: "SHARED_TOKEN" } }, { name: "SIGNING_KEY", value: DEV_SECRET, secret: true }] } },
        environments: { dev: { envFiles: ["secrets/shared.env"] }, prod: { envFiles: ["secrets/shared.env"] } },
        files: { "secrets/shared.env": `DB_PASSWORD=${PROD_SECRET}\n` },
      },
      { SHARED_TOKEN: "shared-token-value" },
    );
    expect(report.identical).toBe(true);
    expect(serviceIn(report, "web")).toEqual({ service: "web", status: "identical", severity: undefined, differences: [] });
    expectNoSecrets(report, DEV_SECRET, PROD_SECRET, "shared-token-value");
  });
});

describe("compareEnvironments: services on one side only", () => {
  /** dev runs web and worker; prod, from another manifests directory, runs web only. */
  async function twoSides(): Promise<{ dev: DesiredEnvironment; prod: DesiredEnvironment }> {
    const withWorker = await modelOf({ services: { web: { image: "web:1" }, worker: { image: "worker:1" } }, environments: { dev: {} } });
    const without = await modelOf({ services: { web: { image: "web:1" } }, environments: { prod: {} } });
    return { dev: environmentOf(withWorker, "dev"), prod: environmentOf(without, "prod") };
  }

  it("a service only in A is missing in B, an error counted in the summary", async () => {
    const { dev, prod } = await twoSides();
    const report = compareEnvironments(dev, prod);
    expect(report.services).toEqual([
      { service: "web", status: "identical", severity: undefined, differences: [] },
      { service: "worker", status: "missing in B", severity: "error", differences: [] },
    ]);
    expect(report.summary).toEqual({ ...noDifferences, identical: 1, "missing in B": 1, error: 1 });
    expect(report.identical).toBe(false);
  });

  it("a service only in B is missing in A", async () => {
    const { dev, prod } = await twoSides();
    const report = compareEnvironments(prod, dev);
    expect(report).toMatchObject({ a: "prod", b: "dev", identical: false });
    expect(serviceIn(report, "worker")).toEqual({ service: "worker", status: "missing in A", severity: "error", differences: [] });
    expect(report.summary).toEqual({ ...noDifferences, identical: 1, "missing in A": 1, error: 1 });
  });
});

describe("compareEnvironments: severities", () => {
  it("gives each service the worst severity of its differences and counts every difference in the summary", async () => {
    const report = await compare({
      services: {
        api: { image: "api:1", replicas: 1 },
        db: { image: "db:1" },
        web: { image: "web:1", replicas: 1 },
        worker: { image: "worker:1" },
      },
      environments: {
        dev: { variables: { LOG_LEVEL: "debug" } },
        prod: {
          variables: { LOG_LEVEL: "info" },
          overrides: {
            // info + warning + error -> error
            api: { image: "api:2", replicas: 3 },
            // info + warning -> warning
            web: { replicas: 2 },
          },
        },
      },
    });
    const severities = Object.fromEntries(report.services.map((s) => [s.service, [s.status, s.severity, s.differences.map((d) => `${d.path}:${d.severity}`)]]));
    expect(severities).toEqual({
      api: ["different", "error", ["image:error", "replicas:warning", "env.LOG_LEVEL:info"]],
      db: ["different", "info", ["env.LOG_LEVEL:info"]],
      web: ["different", "warning", ["replicas:warning", "env.LOG_LEVEL:info"]],
      worker: ["different", "info", ["env.LOG_LEVEL:info"]],
    });
    expect(report.summary).toEqual({ ...noDifferences, different: 4, error: 1, warning: 2, info: 4 });
    expect(report.identical).toBe(false);
  });
});
