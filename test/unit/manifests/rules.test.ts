import { afterEach, describe, expect, it } from "vitest";
import { loadManifests } from "../../../src/manifests/load.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

let current: ManifestDir | undefined;
afterEach(() => current?.cleanup());

/** Loads the base project plus `extra` files and returns messages with the directory stripped. */
async function problems(extra: Record<string, string | undefined>, base = baseProject()): Promise<string[]> {
  current = createManifestDir({ ...base, ...(extra as Record<string, string>) });
  const state = await loadManifests(current.dir);
  return state.errors.map((e) => e.message.split(`${current!.dir}/`).join(""));
}

describe("cross-resource rules", () => {
  it("accepts the base project", async () => {
    expect(await problems({})).toEqual([]);
  });

  it.each([
    {
      name: "unknown project reference, with a suggestion",
      files: { "api.yaml": doc("Service", "api", "project: shopp\nimage: api:1") },
      want: [
        'api.yaml:6:12: Service/api: Project/shopp does not exist (did you mean "shop"?); expected the name of a declared Project: shop, e.g. project: shop',
      ],
    },
    {
      name: "unknown target reference",
      files: { "prod.yaml": doc("Environment", "prod", "project: shop\ntarget: faraway") },
      want: [
        "prod.yaml:7:11: Environment/prod: DeploymentTarget/faraway does not exist; expected the name of a declared DeploymentTarget: local, e.g. target: local",
      ],
    },
    {
      name: "unknown dependency",
      files: { "api.yaml": doc("Service", "api", "project: shop\nimage: api:1\ndependsOn:\n  - service: db") },
      want: [
        "api.yaml:9:16: Service/api: Service/db does not exist in Project/shop; expected the name of a declared Service: api, web, e.g. service: api",
      ],
    },
    {
      name: "override of a service the project does not have",
      files: { "prod.yaml": doc("Environment", "prod", "project: shop\ntarget: local\noverrides:\n  wbe:\n    replicas: 2") },
      want: [
        'prod.yaml:9:5: Environment/prod: Service/wbe does not exist in Project/shop (did you mean "web"?); expected the name of a declared Service: web, e.g. web: {replicas: 2}',
      ],
    },
    {
      name: "duplicate name across files",
      files: { "again.yaml": doc("Service", "web", "project: shop\nimage: web:2") },
      want: [
        "web.yaml:4:9: Service/web: duplicate name: Service/web is already declared at again.yaml:1:1; expected a name unique among Service resources, e.g. name: web-2",
      ],
    },
    {
      name: "dependency cycle, printed in full",
      files: {
        "cycle.yaml": [
          doc("Service", "a", "project: shop\nimage: a:1\ndependsOn:\n  - service: b"),
          doc("Service", "b", "project: shop\nimage: b:1\ndependsOn:\n  - service: c"),
          doc("Service", "c", "project: shop\nimage: c:1\ndependsOn:\n  - service: a"),
        ].join("---\n"),
      },
      want: [
        "cycle.yaml:9:16: Service/a: dependency cycle: a -> b -> c -> a; expected dependencies that form no loop; remove one dependsOn entry of the cycle, e.g. dependsOn: [] in Service/a",
      ],
    },
    {
      name: "a service depending on itself",
      files: { "self.yaml": doc("Service", "loop", "project: shop\nimage: a:1\ndependsOn:\n  - service: loop") },
      want: [
        "self.yaml:9:16: Service/loop: dependency cycle: loop -> loop; expected dependencies that form no loop; remove one dependsOn entry of the cycle, e.g. dependsOn: [] in Service/loop",
      ],
    },
    {
      name: "service_healthy on a dependency without a health check",
      files: { "api.yaml": doc("Service", "api", "project: shop\nimage: api:1\ndependsOn:\n  - service: web\n    condition: service_healthy") },
      want: [
        "api.yaml:10:18: Service/api: waits for Service/web to be healthy, but it has no healthCheck; expected a healthCheck on Service/web, or condition service_started, e.g. healthCheck: {tcp: {port: 5432}}",
      ],
    },
    {
      name: "health check interval shorter than its timeout",
      files: { "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nhealthCheck:\n  tcp: {port: 80}\n  interval: 1s\n  timeout: 3s") },
      want: [
        "web.yaml:10:15: Service/web: health check interval 1s is shorter than its timeout 3s; expected interval >= timeout, e.g. interval: 3s",
      ],
    },
    {
      name: "an exec check (Docker's, never overlapping) may time out later than its interval",
      files: { "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nhealthCheck:\n  exec: {command: [pg_isready]}\n  interval: 2s\n  timeout: 30s") },
      want: [],
    },
    {
      name: "host port collision between environments on one target, with a free alternative",
      files: {
        "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nports:\n  - container: 80\n    host: 8080"),
        "staging.yaml": doc("Environment", "staging", "project: shop\ntarget: local"),
      },
      want: [
        "web.yaml:10:13: Service/web: host port 8080/tcp of Environment/staging Service/web is already taken by Environment/dev Service/web on DeploymentTarget/local; expected a host port free on DeploymentTarget/local, such as 8081, e.g. in Environment/staging: overrides: {web: {ports: [{container: 80, host: 8081}]}}",
      ],
    },
    {
      name: "host port collision between two services, on an override",
      files: {
        "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nports:\n  - container: 80\n    host: 8080"),
        "api.yaml": doc("Service", "api", "project: shop\nimage: api:1"),
        "base.yaml": [
          doc("DeploymentTarget", "local", "type: local"),
          doc("Project", "shop", "description: two services"),
          doc("Environment", "dev", "project: shop\ntarget: local\noverrides:\n  api:\n    ports:\n      - {container: 80, host: 8080, hostIP: 127.0.0.1}"),
        ].join("---\n"),
      },
      want: [
        "web.yaml:10:13: Service/web: host port 8080/tcp of Environment/dev Service/web is already taken by Environment/dev Service/api on DeploymentTarget/local; expected a host port free on DeploymentTarget/local, such as 8081, e.g. in Environment/dev: overrides: {web: {ports: [{container: 80, host: 8081}]}}",
      ],
    },
    {
      name: "replicas sharing one fixed host port",
      files: { "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nreplicas: 2\nports:\n  - container: 80\n    host: 8080") },
      want: [
        "web.yaml:11:13: Service/web: 2 replicas of Environment/dev Service/web would all publish host port 8080/tcp; expected replicas: 1 with a fixed host port, or no host port and a reverse proxy in front, e.g. ports: [{container: 80}]",
      ],
    },
    {
      name: "different protocols and addresses do not collide",
      files: {
        "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nports:\n  - {container: 53, host: 5353, protocol: udp}\n  - {container: 80, host: 8080, hostIP: 127.0.0.1}"),
        "api.yaml": doc("Service", "api", "project: shop\nimage: api:1\nports:\n  - {container: 53, host: 5353}\n  - {container: 80, host: 8080, hostIP: 127.0.0.2}"),
      },
      want: [],
    },
    {
      name: "a project without services or environments",
      files: { "empty.yaml": doc("Project", "empty", "description: nothing yet") },
      want: [
        "empty.yaml:4:9: Project/empty: has no Environment; expected at least one Environment with project: empty, e.g. {kind: Environment, metadata: {name: development}, spec: {project: empty, target: local}}",
        "empty.yaml:4:9: Project/empty: has no Service; expected at least one Service with project: empty, e.g. {kind: Service, metadata: {name: web}, spec: {project: empty, image: \"nginx:1.27\"}}",
      ],
    },
    {
      name: "ssh target without its ssh block",
      files: { "remote.yaml": doc("DeploymentTarget", "remote", "type: ssh") },
      want: [
        'remote.yaml:6:9: DeploymentTarget/remote: type ssh needs an "ssh" block; expected ssh: {host, user, hostKey}, e.g. ssh: {host: deploy.example.com, user: deploy, hostKey: "SHA256:…"}',
      ],
    },
    {
      name: "volumeNames for a volume no Service mounts (a misspelt key would strand the data)",
      files: { "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nvolumes:\n  - {source: pgdata, target: /data}"), "prod.yaml": doc("Environment", "prod", "project: shop\ntarget: local\nvolumeNames:\n  pgdata: shop_pgdata\n  pgdta: shop_pgdata") },
      want: ['prod.yaml:10:5: Environment/prod: volumeNames names volume "pgdta", which no Service of Project/shop mounts; expected one of pgdata, e.g. pgdata: shop_pgdata'],
    },
    {
      name: "backups: of a bind mount, on a schedule cron cannot read, into the volume itself",
      files: {
        "web.yaml": doc(
          "Service",
          "web",
          'project: shop\nimage: web:1\nvolumes:\n  - {type: bind, source: /srv/www, target: /www, backup: {schedule: "@daily", retain: {count: 7}}}\n  - {source: data, target: /data, backup: {schedule: "61 * * * *", retain: {age: 30d}, destination: {volume: data}}}',
        ),
      },
      want: [
        'web.yaml:9:52: Service/web: only a named volume can be backed up; this mount has type bind; expected type: volume, e.g. {type: volume, source: data, target: /www, backup: {schedule: "0 3 * * *", retain: {count: 7}}}',
        'web.yaml:10:56: Service/web: backup schedule "61 * * * *" is not a cron expression: CronPattern: Invalid value for minute: 61; expected 5 fields (minute hour day month weekday), 6 with seconds first, or @hourly/@daily/@weekly, e.g. schedule: "0 3 * * *"',
        "web.yaml:10:112: Service/web: backups of volume data cannot be written into the volume itself; expected another named volume, or a path on the target host, e.g. destination: {volume: archives}",
      ],
    },
    {
      name: "backups: a destination volume the Environment names is mounted as far as volumeNames can tell",
      files: {
        "web.yaml": doc("Service", "web", 'project: shop\nimage: web:1\nvolumes:\n  - {source: data, target: /data, backup: {schedule: "*/5 * * * * *", retain: {count: 2, age: 1w}, destination: {volume: archive}}}'),
        "prod.yaml": doc("Environment", "prod", "project: shop\ntarget: local\nvolumeNames:\n  archive: shop_archive"),
      },
      want: [],
    },
    {
      name: "named volume without a source, path mounted twice",
      files: { "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nvolumes:\n  - target: /data\n  - {type: tmpfs, target: /data}") },
      want: [
        "web.yaml:9:7: Service/web: a volume mount needs a \"source\"; expected a volume name, e.g. source: data",
        "web.yaml:10:29: Service/web: /data is mounted twice; expected each target path once, e.g. target: /data-2",
      ],
    },
    {
      name: "two environments whose names run together into one volume name on a target",
      files: {
        "web.yaml": doc("Service", "web", "project: shop\nimage: web:1\nvolumes:\n  - {source: eu-data, target: /a}\n  - {source: data, target: /b}"),
        "prod.yaml": doc("Environment", "dev-eu", "project: shop\ntarget: local"),
      },
      want: [
        "prod.yaml:4:9: Environment/dev-eu: Docker name shop-dev-eu-data (volume data) is also the name of volume eu-data of Environment/dev on DeploymentTarget/local; expected environment, volume and network names that do not run together into the same Docker name, e.g. name: deveu",
      ],
    },
  ])("$name", async ({ files, want }: { files: Record<string, string | undefined>; want: string[] }) => {
    expect(await problems(files)).toEqual(want);
  });
});
