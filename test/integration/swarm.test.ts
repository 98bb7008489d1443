import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBusyboxImage } from "../../src/docker/busybox-image.ts";
import { buildDemoImages, DEMO_BASE_IMAGE } from "../../src/docker/demo-images.ts";
import { DockerDriver } from "../../src/docker/driver.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { eventually } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { startPrivateEngine, type TestEngine } from "../support/engine.ts";
import { freePort, startChild, type Child } from "../support/processes.ts";

/**
 * A Swarm target on a real single-node swarm: a private engine of this suite's
 * own (`docker swarm init` on it), so that the shared engine stays a plain one.
 * The example's production environment runs there as Swarm services, updates
 * go through Swarm's rolling update, a failing revision is rolled back by
 * Swarm and recorded so, and a service removed behind Berth's back comes back.
 */
let engine: TestEngine;
let work: string;
let daemon: Child | undefined;
let store: Store | undefined;
let port: number;
const db = () => `file:${join(work, "berth.db")}`;

beforeAll(async () => {
  engine = await startPrivateEngine("172.29.0.0/16");
  await engine.docker.swarmInit({ ListenAddr: `127.0.0.1:${await freePort()}`, AdvertiseAddr: "127.0.0.1" });
  const driver = new DockerDriver("swarm-test", engine.docker);
  await buildDemoImages(driver);
  // Production's api runs the demo image's next tag.
  await engine.docker.getImage(DEMO_BASE_IMAGE).tag({ repo: DEMO_BASE_IMAGE.split(":")[0]!, tag: "2" } as never);
  await buildBusyboxImage(driver, "berth-swarm/busybox:1", "swarm\n");
  work = mkdtempSync(join(tmpdir(), "berth-swarm-"));
}, 180_000);

afterAll(async () => {
  if (daemon) await daemon.stop();
  store?.close();
  await engine?.docker.swarmLeave({ force: true }).catch(() => {});
  await engine?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

const services = async () => new Map((await engine.docker.listServices()).map((s) => [s.Spec!.Name!, s]));
const replicasOf = async (name: string) => (await services()).get(name)?.Spec?.Mode?.Replicated?.Replicas;
const runningTasks = async (name: string) => (await engine.docker.listTasks({ filters: { service: [name], "desired-state": ["running"] } })).filter((t: { Status?: { State?: string } }) => t.Status?.State === "running").length;
const berth = (...args: string[]) => cliRunner({ DOCKER_HOST: engine.host })(...args);

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, "utf8");
  if (!text.includes(from)) throw new Error(`${file} has no ${from}`);
  writeFileSync(file, text.replace(from, to));
}

async function settled(key: string, count: number): Promise<string> {
  return eventually(async () => {
    const rows = await store!.deployments.list({ service: key });
    return rows.length >= count && rows[0]!.status !== "in_progress" ? rows[0]!.status : undefined;
  }, 120_000, `rollout ${count} of ${key} settled`);
}

describe("a Swarm DeploymentTarget", () => {
  it("runs the example's production environment as Swarm services with their replicas, shown by status, history, health and metrics", async () => {
    const dir = join(work, "manifests");
    cpSync("manifests", dir, { recursive: true });
    rmSync(join(dir, "development.yaml"));
    writeFileSync(join(dir, "target.yaml"), `apiVersion: berth.dev/v1beta1\nkind: DeploymentTarget\nmetadata: {name: local}\nspec: {type: swarm, docker: {host: "${engine.host}"}}\n`);
    edit(join(dir, "production.yaml"), "suspend: true", "suspend: false");
    // Swarm publishes on every node's every address: a port bound to 127.0.0.1 is refused there, and named so.
    const refused = await berth("plan", dir, "--db", `file:${join(work, "plan.db")}`);
    expect(refused.out).toMatch(/web\.yaml:\d+:\d+: port 8089 is bound to 127\.0\.0\.1, but a swarm target publishes ports on every node/);
    edit(join(dir, "production.yaml"), "          hostIP: 127.0.0.1\n", "");
    port = await freePort();
    daemon = startChild(process.execPath, ["bin/berth.js", "run", dir, "--db", db(), "--listen", `127.0.0.1:${port}`, "--resync", "5s"], { ...process.env, DOCKER_HOST: engine.host });
    store = await openStore(db());
    for (const name of ["store", "api", "web"]) expect(await settled(`Service/production/${name}`, 1), daemon.output()).toBe("success");

    expect(await replicasOf("demo-production-api")).toBe(3);
    expect(await replicasOf("demo-production-store")).toBe(1);
    expect(await replicasOf("demo-production-web")).toBe(1);
    expect(await runningTasks("demo-production-api")).toBe(3);
    const network = (await engine.docker.listNetworks({ filters: { name: ["demo-production"] } }))[0] as { Driver?: string; Attachable?: boolean } | undefined;
    expect(network).toMatchObject({ Driver: "overlay", Attachable: true });
    // No container of Berth's own making: everything runs as tasks.
    const own = await engine.docker.listContainers({ all: true, filters: { label: ["dev.berth.project=demo"] } });
    expect(own.every((c) => c.Labels["com.docker.swarm.task.id"] !== undefined)).toBe(true);

    const status = await berth("status", "--db", db());
    expect(status.stdout).toMatch(/Service\s+production\/api\s+Running\s+yes\s+\S+\s+3\/3 tasks running/);
    const history = await berth("history", "Service/production/api", "--db", db(), "-o", "json");
    expect((JSON.parse(history.stdout) as { items: { status: string }[] }).items[0]).toMatchObject({ status: "success" });
    // Swarm runs the checks in the tasks; their results are the service's health history.
    await eventually(async () => ((await store!.health.list({ service: "Service/production/api" })).some((r) => r.status === "healthy") ? true : undefined), 60_000, "health history");
    const health = await berth("health", "Service/production/api", "--db", db());
    expect(health.stdout).toMatch(/healthy/);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/berth_containers_running\{[^}]*service="api"[^}]*\} 3/);
    expect(metrics).toMatch(/berth_service_healthy\{[^}]*service="api"[^}]*\} 1/);

    // An image change rolls out through Swarm's update.
    edit(join(dir, "production.yaml"), "image: berth-demo/busybox:2", "image: berth-demo/busybox:1");
    expect(await settled("Service/production/api", 2), daemon.output()).toBe("success");
    const api = (await services()).get("demo-production-api")!;
    expect((api.Spec!.TaskTemplate as { ContainerSpec: { Image: string } }).ContainerSpec.Image).toMatch(/^berth-demo\/busybox:1/);
    expect((api as { UpdateStatus?: { State?: string } }).UpdateStatus?.State).toBe("completed");
    await eventually(async () => ((await runningTasks("demo-production-api")) === 3 ? true : undefined), 60_000, "3 tasks of the new image");

    // Removed behind Berth's back: drift, repaired.
    await engine.docker.getService("demo-production-store").remove();
    await eventually(async () => ((await runningTasks("demo-production-store")) === 1 ? true : undefined), 60_000, "store recreated");
    expect(daemon.output()).toMatch(/swarm service created.*removed behind Berth's back/);

    // Scaled behind Berth's back: put back.
    const web = (await services()).get("demo-production-web")!;
    await engine.docker.getService(web.ID).update({ ...web.Spec, version: web.Version!.Index, Mode: { Replicated: { Replicas: 2 } } } as never);
    await eventually(async () => ((await replicasOf("demo-production-web")) === 1 ? true : undefined), 60_000, "web scaled back to 1");

    // plan, run beside the daemon, finds nothing to do.
    const plan = await berth("plan", dir, "--db", db());
    expect(plan.stdout).toContain("No changes");
  }, 300_000);

  it("reports a revision that Swarm rolled back as rolled_back, and holds it until the manifest changes", async () => {
    const dir = join(work, "failing");
    const write = (command: string, env: string) =>
      writeFileSync(
        join(dir, "all.yaml"),
        [
          `apiVersion: berth.dev/v1beta1\nkind: DeploymentTarget\nmetadata: {name: cluster}\nspec: {type: swarm, docker: {host: "${engine.host}"}}`,
          "apiVersion: berth.dev/v1beta1\nkind: Project\nmetadata: {name: shop}",
          "apiVersion: berth.dev/v1beta1\nkind: Environment\nmetadata: {name: live}\nspec: {project: shop, target: cluster}",
          `apiVersion: berth.dev/v1beta1\nkind: Service\nmetadata: {name: web}\nspec:\n  project: shop\n  image: berth-swarm/busybox:1\n  imagePullPolicy: Never\n  command: ${command}\n  replicas: 2\n  env: [{name: V, value: "${env}"}]\n  healthCheck: {http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2}\n  update: {healthTimeout: 5s}`,
        ].join("\n---\n"),
      );
    mkdirSync(dir, { recursive: true });
    const good = '[httpd, -f, -p, "8080", -h, /www]';
    write(good, "a");
    const failingDb = `file:${join(work, "failing.db")}`;
    expect((await berth("apply", dir, "--db", failingDb, "--wait", "--timeout", "90s")).code).toBe(0);

    // Answers 404 to its health check: Swarm's update fails and Swarm rolls it back.
    write('[sh, -c, "mkdir -p /tmp/empty; exec httpd -f -p 8080 -h /tmp/empty"]', "b");
    const failed = await berth("apply", dir, "--db", failingDb, "--wait", "--timeout", "150s");
    expect(failed.code).not.toBe(0);
    expect(failed.stdout + failed.stderr).toMatch(/rolled back by Swarm/);
    const history = (JSON.parse((await berth("history", "Service/live/web", "--db", failingDb, "-o", "json")).stdout) as { items: { status: string; error?: string }[] }).items;
    expect(history.map((h) => h.status)).toEqual(["rolled_back", "success"]);
    expect(history[0]!.error).toMatch(/unhealthy/);
    expect(await runningTasks("shop-live-web")).toBe(2);

    // Held: another pass does not push the same revision again.
    const again = await berth("apply", dir, "--db", failingDb, "--timeout", "20s");
    expect(again.stdout + again.stderr).toMatch(/rolled back by Swarm/);
    expect((JSON.parse((await berth("history", "Service/live/web", "--db", failingDb, "-o", "json")).stdout) as { items: unknown[] }).items).toHaveLength(2);

    // A new revision rolls out again.
    write(good, "c");
    expect((await berth("apply", dir, "--db", failingDb, "--wait", "--timeout", "90s")).code).toBe(0);
    expect((JSON.parse((await berth("history", "Service/live/web", "--db", failingDb, "-o", "json")).stdout) as { items: { status: string }[] }).items[0]!.status).toBe("success");
  }, 300_000);
  it("passes secret env values as Swarm secrets: the task sees them in its environment, the service spec never holds them, and a rotation makes a new version; a removed Environment takes its services, secrets and network along", async () => {
    const dir = join(work, "secrets");
    mkdirSync(join(dir, "secrets"), { recursive: true });
    const token = (n: number) => `s3cret-token-${n}-${"x".repeat(12)}`;
    writeFileSync(join(dir, "secrets", "app.env"), `TOKEN=${token(1)}\n`);
    writeFileSync(
      join(dir, "all.yaml"),
      [
        `apiVersion: berth.dev/v1beta1\nkind: DeploymentTarget\nmetadata: {name: cluster}\nspec: {type: swarm, docker: {host: "${engine.host}"}}`,
        "apiVersion: berth.dev/v1beta1\nkind: Project\nmetadata: {name: vault}",
        "apiVersion: berth.dev/v1beta1\nkind: Environment\nmetadata: {name: live}\nspec: {project: vault, target: cluster}",
        'apiVersion: berth.dev/v1beta1\nkind: Service\nmetadata: {name: api}\nspec:\n  project: vault\n  image: berth-swarm/busybox:1\n  imagePullPolicy: Never\n  command: [sh, -c, "printf %s \\"$TOKEN\\" > /tmp/token; printf %s \\"$PLAIN\\" > /tmp/plain; exec sleep 3600"]\n  env:\n    - {name: PLAIN, value: visible}\n    - {name: TOKEN, valueFrom: {envFile: secrets/app.env, key: TOKEN}}',
      ].join("\n---\n"),
    );
    const secretsDb = `file:${join(work, "secrets.db")}`;
    const apply = async () => expect((await berth("apply", dir, "--db", secretsDb, "--wait", "--timeout", "90s")).code).toBe(0);
    const taskSees = async (file: string) => {
      const [task] = await engine.docker.listContainers({ filters: { label: ["com.docker.swarm.service.name=vault-live-api"], status: ["running"] } });
      return (await new DockerDriver("swarm-test", engine.docker).execJob(task!.Id, ["cat", file], "test")).output;
    };
    const ours = async () => (await engine.docker.listSecrets({ filters: { label: ["dev.berth.service=api", "dev.berth.project=vault"] } })).map((s) => s.Spec!.Name!);

    await apply();
    // The task's shell writes the files right after it starts.
    await eventually(async () => ((await taskSees("/tmp/token")) === token(1) ? true : undefined), 30_000, "the value in the task");
    expect(await taskSees("/tmp/plain")).toBe("visible");
    const spec = JSON.stringify((await services()).get("vault-live-api"));
    expect(spec).not.toContain(token(1));
    expect(spec).toContain("PLAIN=visible");
    const first = await ours();
    expect(first).toEqual([expect.stringMatching(/^vault-live-api\.TOKEN\.[0-9a-f]{12}$/)]);
    expect((await berth("status", "--db", secretsDb, "-o", "json")).stdout).not.toContain(token(1));

    // Rotation: a new revision with a new secret version; the previous one stays while a rollback may need it.
    writeFileSync(join(dir, "secrets", "app.env"), `TOKEN=${token(2)}\n`);
    await apply();
    await eventually(async () => ((await taskSees("/tmp/token")) === token(2) ? true : undefined), 60_000, "the rotated value in the task");
    expect(await ours()).toHaveLength(2);
    writeFileSync(join(dir, "secrets", "app.env"), `TOKEN=${token(3)}\n`);
    await apply();
    await eventually(async () => ((await taskSees("/tmp/token")) === token(3) ? true : undefined), 60_000, "the second rotation in the task");
    await eventually(async () => {
      const now = await ours();
      return now.length === 2 && !now.includes(first[0]!) ? true : undefined;
    }, 60_000, "the first version removed");
    expect(JSON.stringify((await services()).get("vault-live-api"))).not.toContain(token(3));

    // A secret that cannot be read makes the Service undeployable as written: what runs stays, nothing is removed.
    writeFileSync(join(dir, "secrets", "app.env"), "OTHER=1\n");
    const broken = await berth("apply", dir, "--db", secretsDb, "--timeout", "20s");
    expect(broken.code).not.toBe(0);
    expect(broken.out).toMatch(/TOKEN/);
    expect((await services()).has("vault-live-api")).toBe(true);
    expect(await taskSees("/tmp/token")).toBe(token(3));

    // The Environment replaced by another in the manifests: its Swarm services, their secrets and its overlay network go.
    writeFileSync(
      join(dir, "all.yaml"),
      [
        `apiVersion: berth.dev/v1beta1\nkind: DeploymentTarget\nmetadata: {name: cluster}\nspec: {type: swarm, docker: {host: "${engine.host}"}}`,
        "apiVersion: berth.dev/v1beta1\nkind: Project\nmetadata: {name: vault}",
        "apiVersion: berth.dev/v1beta1\nkind: Environment\nmetadata: {name: next}\nspec: {project: vault, target: cluster}",
        'apiVersion: berth.dev/v1beta1\nkind: Service\nmetadata: {name: api}\nspec:\n  project: vault\n  image: berth-swarm/busybox:1\n  imagePullPolicy: Never\n  command: [sleep, "3600"]',
      ].join("\n---\n"),
    );
    let last = "";
    await eventually(async () => {
      last = (await berth("apply", dir, "--db", secretsDb, "--timeout", "30s", "--log-level", "info")).out;
      const networks = await engine.docker.listNetworks({ filters: { label: ["dev.berth.environment=live"] } });
      return !(await services()).has("vault-live-api") && (await services()).has("vault-next-api") && (await ours()).length === 0 && networks.length === 0 ? true : undefined;
    }, 90_000, "the environment's service, secrets and network removed").catch((error: Error) => {
      throw new Error(`${error.message}; the last apply said:\n${last}`);
    });
  }, 300_000);
});
