import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { controllers, targets } from "../../../controllers/index.ts";
import { buildDesiredModel, type DesiredService, type ModelOptions } from "../../../src/desired/model.ts";
import { Manager } from "../../../src/engine/manager.ts";
import { createLogger, Redactor } from "../../../src/log/logger.ts";
import { loadManifests, type DesiredState } from "../../../src/manifests/load.ts";
import type { Resource } from "../../../src/manifests/types.ts";
import { openStore } from "../../../src/store/index.ts";
import { fakeWorld } from "../../support/fake-world.ts";
import { createManifestDir, type ManifestDir } from "../../support/manifest-dir.ts";
import { shopFiles, type Shop } from "../../support/shop.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A folder outside every manifests directory, as an operator's /srv/secrets would be. */
function outside(files: Record<string, string> = {}): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "berth-outside-")));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), content);
  }
  return dir;
}

async function load(shop: Shop, prepare?: (dir: ManifestDir) => void): Promise<{ dir: ManifestDir; state: DesiredState }> {
  const dir = createManifestDir(shopFiles(shop));
  cleanups.push(() => dir.cleanup());
  prepare?.(dir);
  const state = await loadManifests(dir.dir);
  expect(state.errors.map((e) => e.message)).toEqual([]);
  return { dir, state };
}

const service = (state: DesiredState, options: ModelOptions | undefined, name = "web", environment = "dev"): DesiredService => buildDesiredModel(state, { daemonEnv: {}, ...options }).services.get(`Service/${environment}/${name}`)!;

/** `file:line:col` of a resource, as messages start with it. */
function at(state: DesiredState, kind: string, name: string): string {
  const resource = state.resources.find((r: Resource) => r.kind === kind && r.metadata.name === name)!;
  return `${resource.source.file}:${resource.source.line}:${resource.source.col}`;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

const DOCKERFILE = { "images/web/Dockerfile": "FROM scratch\n" };

describe("host-path policy: env files", () => {
  it("reads env files inside the manifests directory by default (as the example does)", async () => {
    const { state } = await load({
      files: { "secrets/dev.env": "A=1\n", "secrets/db.env": "PASSWORD=p\n" },
      environments: { dev: { envFiles: ["secrets/dev.env"] } },
      services: { web: { image: "web:1", env: [{ name: "DB", valueFrom: { envFile: "./secrets/db.env", key: "PASSWORD" } }] } },
    });
    const web = service(state, undefined);
    expect(web.error).toBeUndefined();
    expect(web.template.Env).toEqual(["A=1", "DB=p"]);
  });

  it("refuses an absolute env file outside the manifests directory, naming the Environment's location and the flag", async () => {
    const { state } = await load({ environments: { dev: { envFiles: ["/etc/passwd"] } }, services: { web: { image: "web:1" } } });
    const web = service(state, undefined);
    expect(web.error).toMatch(new RegExp(`^${escape(at(state, "Environment", "dev"))}: `));
    expect(web.error).toContain("/etc/passwd");
    expect(web.error).toContain("--allow-host-path /etc/passwd");
    expect(web.template).toEqual({});
    expect(web.template.Env).toBeUndefined();
  });

  it("refuses a valueFrom env file reached with ../, naming the Service's location; an allowed prefix lets it through", async () => {
    const secrets = outside({ "shop.env": "PASSWORD=hunter22\n" });
    // The manifests directory and the outside folder are siblings under the temporary folder.
    const relative = join("..", basename(secrets), "shop.env");
    const { state: relState } = await load({ services: { web: { image: "web:1", env: [{ name: "DB", valueFrom: { envFile: relative, key: "PASSWORD" } }] } } });
    const refused = service(relState, undefined);
    expect(refused.error).toMatch(new RegExp(`^${escape(at(relState, "Service", "web"))}: `));
    expect(refused.error).toContain(`--allow-host-path ${join(secrets, "shop.env")}`);

    expect(service(relState, { hostPaths: { allow: [secrets] } }).template.Env).toEqual(["DB=hunter22"]);
    expect(service(relState, { hostPaths: { allow: [join(secrets, "shop.env")] } }).error).toBeUndefined();
    // A prefix is a folder, not a string prefix: /x/sec does not allow /x/secrets.
    expect(service(relState, { hostPaths: { allow: [secrets.slice(0, -2)] } }).error).toContain("--allow-host-path");
  });

  it("follows symlinks: a link inside the manifests directory to a file outside it is refused", async () => {
    const secrets = outside({ "other.env": "KEY=stolen\n" });
    const { state } = await load({ environments: { dev: { envFiles: ["secrets/link.env"] } }, services: { web: { image: "web:1" } } }, (dir) => {
      mkdirSync(join(dir.dir, "secrets"), { recursive: true });
      symlinkSync(join(secrets, "other.env"), join(dir.dir, "secrets/link.env"));
    });
    const web = service(state, undefined);
    expect(web.error).toContain(`--allow-host-path ${join(secrets, "other.env")}`);
    expect(JSON.stringify(web)).not.toContain("stolen");
  });

  it("refuses only the services that use the file: others in the model are untouched", async () => {
    const { state } = await load({
      services: { web: { image: "web:1", env: [{ name: "P", valueFrom: { envFile: "/etc/hostname" } }] }, db: { image: "db:1" } },
    });
    const model = buildDesiredModel(state, { daemonEnv: {} });
    expect(model.services.get("Service/dev/web")!.error).toContain("--allow-host-path /etc/hostname");
    expect(model.services.get("Service/dev/db")!.error).toBeUndefined();
    expect(model.services.get("Service/dev/db")!.template.Image).toBe("db:1");
  });
});

describe("host-path policy: build contexts", () => {
  it("reads a build context inside the manifests directory by default", async () => {
    const { state } = await load({ files: DOCKERFILE, services: { web: { build: { context: "images/web" } } } });
    expect(service(state, undefined).error).toBeUndefined();
  });

  it("refuses a build context outside the manifests directory unless a prefix allows it", async () => {
    const source = outside({ "app/Dockerfile": "FROM scratch\n" });
    const { state } = await load({ services: { web: { build: { context: join(source, "app") } } } });
    const web = service(state, undefined);
    expect(web.error).toMatch(new RegExp(`^${escape(at(state, "Service", "web"))}: `));
    expect(web.error).toContain(`--allow-host-path ${join(source, "app")}`);
    expect(web.image.ref).toBe("");

    const allowed = service(state, { hostPaths: { allow: [source] } });
    expect(allowed.error).toBeUndefined();
    expect(allowed.image.build?.files).toEqual(["Dockerfile"]);
  });

  it("refuses a build context that is a symlink out of the manifests directory, and / itself", async () => {
    const source = outside({ "Dockerfile": "FROM scratch\n" });
    const { state } = await load({ services: { web: { build: { context: "images/web" } }, root: { build: { context: "/" } } } }, (dir) => {
      mkdirSync(join(dir.dir, "images"), { recursive: true });
      symlinkSync(source, join(dir.dir, "images/web"));
    });
    expect(service(state, undefined).error).toContain(`--allow-host-path ${source}`);
    expect(service(state, undefined, "root").error).toContain("--allow-host-path /");
  });
});

describe("host-path policy: bind mounts", () => {
  const refused = ["/", "/etc", "/etc/ssh", "/proc", "/proc/1/root", "/sys", "/sys/fs/cgroup", "/dev", "/root", "/boot", "/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run"];
  it.each(refused)("refuses a bind of %s by default, naming the location and --allow-host-path; a prefix allows it", async (source) => {
    const { state } = await load({ services: { web: { image: "web:1", volumes: [{ type: "bind", source, target: "/host" }] }, db: { image: "db:1" } } });
    const web = service(state, undefined);
    expect(web.error).toMatch(new RegExp(`^${escape(at(state, "Service", "web"))}: `));
    expect(web.error).toContain(`--allow-host-path ${source}`);
    expect(web.template).toEqual({});
    expect(service(state, undefined, "db").error).toBeUndefined();

    const allowed = service(state, { hostPaths: { allow: [source] } });
    expect(allowed.error).toBeUndefined();
    expect(allowed.template.HostConfig?.Mounts).toEqual([{ Type: "bind", Source: source, Target: "/host", ReadOnly: false }]);
  });

  it("refuses a relative bind that climbs to /etc", async () => {
    const { state } = await load({ services: { web: { image: "web:1", volumes: [{ type: "bind", source: "../../../../../../../../etc", target: "/host" }] } } });
    expect(service(state, undefined).error).toContain("--allow-host-path /etc");
  });

  it("refuses a bind through a symlink in the manifests directory that points at / (local target)", async () => {
    const { state } = await load({ services: { web: { image: "web:1", volumes: [{ type: "bind", source: "./config", target: "/host" }] } } }, (dir) => {
      symlinkSync("/", join(dir.dir, "config"));
    });
    expect(service(state, undefined).error).toContain("--allow-host-path /");
  });

  it("lets ordinary binds through by default: data folders, /srv, /dev/shm, /tmp", async () => {
    const sources = ["./config", "/srv/data", "/dev/shm", "/tmp/cache", "/var/lib/app", "/root-like"];
    const { state } = await load({ services: { web: { image: "web:1", volumes: sources.map((source, i) => ({ type: "bind", source, target: `/m${i}` })) } } });
    const web = service(state, undefined);
    expect(web.error).toBeUndefined();
    expect(web.template.HostConfig?.Mounts).toHaveLength(sources.length);
  });
});

describe("host-path policy through the Manager", () => {
  it("passes ManagerOptions.hostPaths to the model: allowed paths are used, others refused", async () => {
    const secrets = outside({ "shop.env": "TOKEN=abcdefgh\n" });
    const { state } = await load({
      environments: { dev: { envFiles: [join(secrets, "shop.env")] } },
      services: { web: { image: "web:1", volumes: [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }] } },
    });
    const store = await openStore("file::memory:");
    cleanups.push(() => store.close());
    const redactor = new Redactor();
    const log = createLogger({ level: "error", format: "json", write: () => {}, redactor });
    const world = fakeWorld({ images: [] });
    const manager = (allow?: string[]) => new Manager({ log, redactor, connect: () => world, controllers, targets, store, watchEvents: false, daemonEnv: {}, hostPaths: allow && { allow } });

    const strict = manager();
    strict.setDesired(state);
    expect(strict.desired.services.get("Service/dev/web")!.error).toContain("--allow-host-path");
    await strict.stop();

    const open = manager([secrets, "/var/run/docker.sock"]);
    open.setDesired(state);
    const web = open.desired.services.get("Service/dev/web")!;
    expect(web.error).toBeUndefined();
    expect(web.template.Env).toEqual(["TOKEN=abcdefgh"]);
    await open.stop();
  });
});

describe("bind sources are judged as what they name", () => {
  it.each(["/tmp/../etc", "//", "/./", "/run//docker.sock", "/var/run/./docker.sock", "/run/containerd/containerd.sock", "/run/user/1000/docker.sock", "/var/lib/docker/volumes"])("%s is refused on an ssh target too (no symlink resolution there)", async (source) => {
    const { HostPathPolicy } = await import("../../../src/desired/host-paths.ts");
    const policy = new HostPathPolicy(tmpdir(), { allow: [] });
    expect(() => policy.bindable(source, "svc.yaml:1:1", false)).toThrow(/refused by the host-path policy/);
  });
});
