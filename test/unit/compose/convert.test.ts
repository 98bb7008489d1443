import { describe, expect, it } from "vitest";
import { convertCompose, type ComposeProject } from "../../../src/compose/convert.ts";
import { durationOf, healthOf, memoryOf, portOf, volumeOf } from "../../../src/compose/fields.ts";

const project = (config: Record<string, unknown>, extra: Partial<ComposeProject> = {}): ComposeProject => ({ config, name: "shop", sources: {}, envFileValues: {}, profiles: [], ...extra });
const OPTIONS = { project: "shop", environment: "production", outDir: "/src/shop/manifests" };
const convert = (config: Record<string, unknown>, extra: Partial<ComposeProject> = {}) => convertCompose(project(config, extra), OPTIONS);
const serviceOf = (config: Record<string, unknown>, extra: Partial<ComposeProject> = {}) => convert(config, extra).services[0]!;

describe("compose fields", () => {
  it.each([
    ["8080:3000", { container: 3000, host: 8080, protocol: "tcp", hostIP: "0.0.0.0" }],
    ["127.0.0.1:9229:9229/udp", { container: 9229, host: 9229, protocol: "udp", hostIP: "127.0.0.1" }],
    ["3000", { container: 3000, protocol: "tcp", hostIP: "0.0.0.0" }],
    [{ target: 80, published: 8081, protocol: "tcp" }, { container: 80, host: 8081, protocol: "tcp", hostIP: "0.0.0.0" }],
    [{ target: 80, published: "8081", host_ip: "127.0.0.1" }, { container: 80, host: 8081, protocol: "tcp", hostIP: "127.0.0.1" }],
  ])("port %j", (entry, want) => {
    expect(portOf(entry)).toEqual(want);
  });

  it("a port range is reported, not guessed", () => {
    expect(portOf("8000-8010:8000-8010")).toMatchObject({ field: "ports" });
  });

  it.each([
    ["pgdata:/var/lib/postgresql/data:rw", { type: "volume", source: "pgdata", target: "/var/lib/postgresql/data", readOnly: false }],
    ["/srv/init.sql:/docker-entrypoint-initdb.d/init.sql:ro", { type: "bind", source: "/srv/init.sql", target: "/docker-entrypoint-initdb.d/init.sql", readOnly: true }],
    [{ type: "volume", source: "pgdata", target: "/data", read_only: true }, { type: "volume", source: "pgdata", target: "/data", readOnly: true }],
    [{ type: "tmpfs", target: "/tmp" }, { type: "tmpfs", target: "/tmp", readOnly: false }],
  ])("volume %j", (entry, want) => {
    expect(volumeOf(entry, (s) => s === "pgdata")).toEqual(want);
  });

  it("an anonymous volume has no name to keep its data under: reported", () => {
    expect(volumeOf("/var/lib/data", () => false)).toMatchObject({ field: "volumes", why: expect.stringContaining("anonymous") });
  });

  it("health checks: CMD-SHELL and a string run through sh, CMD as written, compose's defaults where unset, NONE none", () => {
    expect(healthOf({ test: ["CMD-SHELL", "pg_isready -U app"], interval: "5s", retries: 10 }).check).toEqual({ exec: { command: ["sh", "-c", "pg_isready -U app"] }, interval: "5s", timeout: "30s", retries: 10, startPeriod: "0s" });
    expect(healthOf({ test: ["CMD", "redis-cli", "ping"], timeout: "1m30s", start_period: "20s" }).check?.exec?.command).toEqual(["redis-cli", "ping"]);
    expect(healthOf({ test: "curl -f localhost" }).check?.exec?.command).toEqual(["sh", "-c", "curl -f localhost"]);
    expect(healthOf({ test: ["NONE"] }).check).toBeUndefined();
    expect(healthOf({ disable: true }).check).toBeUndefined();
  });

  it("durations and sizes in Berth's forms", () => {
    expect([durationOf("1m30s"), durationOf("10"), durationOf("500ms"), durationOf(undefined)]).toEqual(["1m30s", "10s", "500ms", undefined]);
    expect([memoryOf("256M"), memoryOf("1g"), memoryOf("512mb"), memoryOf(1048576), memoryOf("lots")]).toEqual(["256m", "1g", "512m", "1048576", undefined]);
  });
});

describe("convertCompose", () => {
  it("keeps compose's volume names (project prefix, explicit name, external) so the data stays", () => {
    const imported = convert({ services: { db: { image: "postgres:16", volumes: ["pgdata:/var/lib/postgresql/data:rw", "logs:/logs:rw", "shared:/shared:rw"] } }, volumes: { pgdata: {}, logs: { name: "shop-logs" }, shared: { external: true } } });
    expect(imported.environment.volumeNames).toEqual({ pgdata: "shop_pgdata", logs: "shop-logs", shared: "shared" });
    expect(imported.services[0]!.spec.volumes?.map((v) => v.source)).toEqual(["pgdata", "logs", "shared"]);
  });

  it("env: env_file values and .env references stay in their files (masked), shell variables read the daemon's, the rest is literal", () => {
    const web = serviceOf(
      { services: { web: { image: "web:1", environment: { FROM_FILE: "a", FROM_DOTENV: "s3cret", FROM_SHELL: null, URL: "postgres://app:s3cret@db/app", PLAIN: "1" } } } },
      {
        sources: { web: { envFiles: ["/src/shop/web.env"], environment: { FROM_DOTENV: "${DB_PASSWORD}", FROM_SHELL: null, URL: "postgres://app:${DB_PASSWORD}@db/app", PLAIN: "1" } } },
        envFileValues: { "/src/shop/web.env": { FROM_FILE: "a" } },
        dotenv: { file: "/src/shop/.env", values: { DB_PASSWORD: "s3cret" } },
      },
    );
    expect(web.spec.env).toEqual([
      { name: "FROM_DOTENV", valueFrom: { envFile: "../.env", key: "DB_PASSWORD" }, secret: true },
      { name: "FROM_FILE", valueFrom: { envFile: "../web.env" }, secret: true },
      { name: "FROM_SHELL", valueFrom: { daemonEnv: "FROM_SHELL" }, secret: true },
      { name: "PLAIN", value: "1", secret: false },
      { name: "URL", value: "postgres://app:s3cret@db/app", secret: true },
    ]);
    expect(web.unmapped).toEqual([{ field: "environment.URL", why: expect.stringContaining("interpolated") }]);
  });

  it("maps build, command, health check, dependencies, replicas, resources, restart, labels and file secrets", () => {
    const { spec } = serviceOf({
      services: {
        web: {
          build: { context: "/src/shop/web", dockerfile: "Dockerfile.prod", args: { NODE_ENV: "production" }, target: "runtime" },
          command: "npm run start -- --port 3000",
          healthcheck: { test: ["CMD", "wget", "-q", "localhost:3000"], interval: "10s" },
          depends_on: { db: { condition: "service_healthy" }, migrate: { condition: "service_completed_successfully" } },
          deploy: { replicas: 2, resources: { limits: { cpus: "0.5", memory: "256M" }, reservations: { memory: "128M" } } },
          restart: "unless-stopped",
          labels: ["tier=front"],
          secrets: ["api_key", { source: "tls", target: "/etc/tls/key.pem" }],
          working_dir: "/app",
          user: "1000:1000",
          stop_grace_period: "20s",
        },
      },
      secrets: { api_key: { file: "/src/shop/secrets/api_key.txt" }, tls: { file: "/src/shop/secrets/tls.pem" } },
    });
    expect(spec).toMatchObject({
      build: { context: "../web", dockerfile: "Dockerfile.prod", args: { NODE_ENV: "production" }, target: "runtime" },
      command: ["npm", "run", "start", "--", "--port", "3000"],
      healthCheck: { exec: { command: ["wget", "-q", "localhost:3000"] }, interval: "10s" },
      dependsOn: [{ service: "db", condition: "service_healthy" }, { service: "migrate", condition: "service_completed_successfully" }],
      replicas: 2,
      resources: { cpus: 0.5, memory: "256m", reservations: { memory: "128m" } },
      restartPolicy: "unless-stopped",
      labels: { tier: "front" },
      workingDir: "/app",
      user: "1000:1000",
      stopGracePeriod: "20s",
      volumes: [
        { type: "bind", source: "../secrets/api_key.txt", target: "/run/secrets/api_key", readOnly: true },
        { type: "bind", source: "../secrets/tls.pem", target: "/etc/tls/key.pem", readOnly: true },
      ],
    });
    expect(spec.image).toBeUndefined();
  });

  it("services of inactive profiles are left out and reported; active ones are imported", () => {
    const config = { services: { web: { image: "web:1" }, debug: { image: "debug:1", profiles: ["debug"] } } };
    expect(convert(config).services.map((s) => s.name)).toEqual(["web"]);
    expect(convert(config).report).toEqual([{ service: "debug", field: "profiles", why: expect.stringContaining("--profile debug") }]);
    expect(convert(config, { profiles: ["debug"] }).services.map((s) => s.name)).toEqual(["web", "debug"]);
  });

  it("never drops a field silently: what has no equivalent is reported per service, x- extensions become annotations", () => {
    const imported = convert({ "x-owner": "team-a", services: { my_app: { image: "app:1", container_name: "app", cap_add: ["NET_ADMIN"], "x-tier": "gold", networks: { backend: { aliases: ["api"] } }, deploy: { placement: { constraints: ["node.role==manager"] } } } }, networks: { backend: {} } });
    const [app] = imported.services;
    expect(app!.name).toBe("my-app");
    expect(app!.spec.networks).toEqual(["backend"]);
    expect(app!.annotations).toEqual({ "compose.berth.dev/x-tier": '"gold"' });
    expect(imported.project.annotations).toEqual({ "compose.berth.dev/x-owner": '"team-a"' });
    expect(imported.report.map((r) => `${r.service} ${r.field}`).sort()).toEqual(["my_app cap_add", "my_app container_name", "my_app deploy.placement", "my_app name", "my_app networks.backend.aliases"]);
  });

  it("dependencies follow a renamed service", () => {
    const imported = convert({ services: { api_server: { image: "api:1" }, web: { image: "web:1", depends_on: ["api_server"] } } });
    expect(imported.services[1]!.spec.dependsOn).toEqual([{ service: "api-server", condition: "service_started" }]);
  });
});
