import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import type { Daemon } from "../../src/engine/daemon.ts";
import { LABEL } from "../../src/docker/labels.ts";
import { openStore } from "../../src/store/index.ts";
import { createTestRuntime, eventually, projectContainers, removeProject, runDaemon, uniqueProject } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { createManifestDir, type ManifestDir } from "../support/manifest-dir.ts";
import { freePort } from "../support/processes.ts";
import { writeProject, writeService, type TestService } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const berth = cliRunner({ DOCKER_HOST: rt.dockerHost });
const projects: string[] = [];
const volumes: string[] = [];
let dir: ManifestDir | undefined;
let daemon: Daemon | undefined;
const dbDir = mkdtempSync(join(tmpdir(), "berth-core-"));

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  dir?.cleanup();
});
afterAll(async () => {
  for (const p of projects) await removeProject(rt.docker, p);
  for (const v of volumes) await rt.docker.getVolume(v).remove().catch(() => {});
  rmSync(dbDir, { recursive: true, force: true });
});

function newProject(prefix: string): string {
  const project = uniqueProject(prefix);
  projects.push(project);
  dir = createManifestDir();
  return project;
}

const CHECK = "{http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2}";
const MISSING_PATH_CHECK = "{http: {path: /not-served, port: 8080}, interval: 1s, timeout: 1s, retries: 2}";

async function runningOf(project: string, service: string) {
  return (await projectContainers(rt.docker, project))
    .filter((c) => c.Labels[LABEL.service] === service && c.State === "running")
    .map((c) => ({ revision: c.Labels[LABEL.specHash]!, ip: Object.values(c.NetworkSettings.Networks)[0]?.IPAddress ?? "" }));
}

async function status(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(800) })).status;
  } catch {
    return 0;
  }
}

describe("the core under real faults", () => {
  it("rolls out a change of only the health check; a path the app does not serve is rolled back, apply --wait exits 1 naming the check, and the old revision serves throughout", async () => {
    const project = newProject("hc");
    const db = `file:${dbDir}/${project}.db`;
    const web: TestService = { command: ["sh", "-c", "exec httpd -f -p 8080 -h /www"], healthCheck: CHECK, update: "{healthTimeout: 20s}" };
    writeProject(dir!, project, rt.dockerHost, { web });
    expect((await berth("apply", dir!.dir, "--wait", "--db", db)).code).toBe(0);
    const [old] = await runningOf(project, "web");
    expect(old).toBeDefined();

    writeService(dir!, project, "web", { ...web, healthCheck: MISSING_PATH_CHECK });
    const plan = JSON.parse((await berth("plan", dir!.dir, "-o", "json", "--db", db)).stdout) as { changes: { resource: string; action: string; fields: string[] }[] };
    expect(plan.changes).toEqual([expect.objectContaining({ resource: `Service/${project}-dev/web`, action: "rollout", fields: ["spec.healthCheck"] })]);

    // The old revision keeps answering while the new one is judged and rolled back.
    const answers: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        answers.push(await status(`http://${old!.ip}:8080/`));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const started = Date.now();
    const applied = await berth("apply", dir!.dir, "--wait", "--timeout", "2m", "--db", db);
    const tookMs = Date.now() - started;
    polling = false;
    await poller;

    expect(applied.code).toBe(1);
    expect(applied.stdout).toContain(`Service/${project}-dev/web`);
    expect(applied.stdout).toContain("http GET :8080/not-served");
    expect(applied.stdout).toMatch(/rolled back/);
    expect(applied.stdout).toMatch(/last logs of /);
    // Ended by the failure, not by the timeout: the check fails within seconds.
    expect(tookMs).toBeLessThan(30_000);
    expect(answers.length).toBeGreaterThan(5);
    expect(answers.every((code) => code === 200)).toBe(true);
    expect((await runningOf(project, "web")).map((c) => c.revision)).toEqual([old!.revision]);
    const store = await openStore(db);
    const [latest] = await store.deployments.list({ service: `Service/${project}-dev/web` });
    store.close();
    expect(latest).toMatchObject({ status: "rolled_back", previousRevision: old!.revision });
  });

  it.each([
    {
      name: "an image missing under imagePullPolicy Never",
      arrange: async (_project: string) => ({ service: { image: "berth-test/never-built:1" } as TestService, cleanup: async () => {} }),
      says: (project: string) => [`Service/${project}-dev/web`, "image berth-test/never-built:1 is not on", "imagePullPolicy is Never"],
    },
    {
      name: "a network of Berth's name owned by someone else",
      arrange: async (project: string) => {
        await rt.docker.createNetwork({ Name: `${project}-${project}-dev` });
        return { service: {} as TestService, cleanup: async () => void (await rt.docker.getNetwork(`${project}-${project}-dev`).remove().catch(() => {})) };
      },
      says: (project: string) => [`Environment/${project}-dev`, `a network named ${project}-${project}-dev already exists`, "does not carry this target's labels"],
    },
    {
      name: "a host port held by a process Berth does not manage",
      arrange: async (_project: string) => {
        const port = await freePort();
        const server: Server = createServer();
        await new Promise<void>((resolve) => server.listen(port, "0.0.0.0", resolve));
        return { service: { ports: `[{container: 8080, host: ${port}}]` } as TestService, cleanup: async () => void (await new Promise((r) => server.close(r))) };
      },
      says: (project: string) => [`Service/${project}-dev/web`, "held by something Berth does not manage"],
    },
  ])("ends apply --wait at once on $name, naming the resource and the reason", async ({ arrange, says }) => {
    const project = newProject("tf");
    const { service, cleanup } = await arrange(project);
    try {
      writeProject(dir!, project, rt.dockerHost, { web: { command: ["sh", "-c", "exec httpd -f -p 8080 -h /www"], ...service } });
      const started = Date.now();
      const applied = await berth("apply", dir!.dir, "--wait", "--timeout", "50s", "--db", `file:${dbDir}/${project}.db`);
      const tookMs = Date.now() - started;
      expect(applied.code).toBe(1);
      for (const text of says(project)) expect(applied.stdout).toContain(text);
      // Not waited out: the failure itself ends it.
      expect(tookMs).toBeLessThan(10_000);
    } finally {
      await cleanup();
    }
  });

  it("adopts a volume that exists under Berth's name without its labels: the container sees its file, one create attempt at most, and status says adopted", async () => {
    const project = newProject("va");
    const volume = `${project}-${project}-dev-data`;
    volumes.push(volume);
    await rt.docker.createVolume({ Name: volume });
    // Data written before Berth ever saw the volume, as a compose stack leaves it.
    const writer = await rt.docker.createContainer({ Image: "berth-test/busybox:1", Cmd: ["sh", "-c", "echo kept-from-before > /data/marker"], HostConfig: { Mounts: [{ Type: "volume", Source: volume, Target: "/data" }] } });
    await writer.start();
    await writer.wait();
    await writer.remove();

    writeProject(dir!, project, rt.dockerHost, {
      web: { command: ["sh", "-c", "cat /data/marker > /www/index.html; exec httpd -f -p 8080 -h /www"], healthCheck: CHECK, volumes: "[{type: volume, source: data, target: /data}]" },
    });
    const since = rt.calls.length;
    daemon = await runDaemon(dir!.dir, rt);
    const settled = await daemon.manager.settle({ timeoutMs: 45_000, ready: true });
    expect(settled.pending).toEqual([]);
    const [web] = await runningOf(project, "web");
    expect(await (await fetch(`http://${web!.ip}:8080/`)).text()).toBe("kept-from-before\n");

    // A few more passes: nothing loops on the volume.
    await daemon.manager.resync();
    await daemon.manager.settle({ timeoutMs: 20_000, ready: true });
    const creates = rt.calls.slice(since).filter((c) => c.operation === "volume.create" && c.object === volume);
    expect(creates.length).toBeLessThanOrEqual(1);
    const environment = daemon.manager.status().find((s) => s.kind === "Environment" && s.name === `${project}-dev`);
    expect(environment?.message).toContain(`volume ${volume} adopted`);
    expect((await rt.docker.getVolume(volume).inspect()).Labels ?? {}).toEqual({});
  });

  it("hands host port 8088 over to a renamed Service: the port answers again within 10 s, without rollout retry", async () => {
    const project = newProject("pr");
    const spec: TestService = { command: ["sh", "-c", "exec httpd -f -p 8080 -h /www"], healthCheck: CHECK, ports: "[{container: 8080, host: 8088}]" };
    writeProject(dir!, project, rt.dockerHost, { web: spec });
    daemon = await runDaemon(dir!.dir, rt);
    expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
    expect(await status("http://127.0.0.1:8088/")).toBe(200);

    dir!.remove("svc-web.yaml");
    writeService(dir!, project, "site", spec);
    const renamed = Date.now();
    await eventually(async () => ((await runningOf(project, "site")).length === 1 && (await runningOf(project, "web")).length === 0 ? true : undefined), 10_000, "the renamed service to run alone");
    await eventually(async () => ((await status("http://127.0.0.1:8088/")) === 200 ? true : undefined), 10_000, "port 8088 to answer again");
    expect(Date.now() - renamed).toBeLessThan(10_000);
    const settled = await daemon.manager.settle({ timeoutMs: 30_000, ready: true });
    expect(settled.pending).toEqual([]);
    expect(daemon.manager.status().find((s) => s.name === `${project}-dev/site`)).toMatchObject({ phase: "Running", ready: true });
  });

  it("rolls a built Service when a source file of its build context changes, without a manifest change or a resync", async () => {
    const project = newProject("bc");
    writeProject(dir!, project, rt.dockerHost, {});
    dir!.write("images/web/Dockerfile", "FROM berth-test/busybox:1\nCOPY index.html /www/index.html\n");
    dir!.write("images/web/index.html", "first\n");
    dir!.write(
      "svc-web.yaml",
      `apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  project: ${project}\n  build: { context: ./images/web }\n  command: ["httpd", "-f", "-p", "8080", "-h", "/www"]\n  healthCheck: ${CHECK}\n  stopGracePeriod: 1s\n`,
    );
    daemon = await runDaemon(dir!.dir, rt, { resyncMs: 10 * 60_000 });
    expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
    const [before] = await runningOf(project, "web");
    expect(await (await fetch(`http://${before!.ip}:8080/`)).text()).toBe("first\n");

    dir!.write("images/web/index.html", "second\n");
    const after = await eventually(async () => {
      const [now] = await runningOf(project, "web");
      return now && now.revision !== before!.revision && (await status(`http://${now.ip}:8080/`)) === 200 ? now : undefined;
    }, 30_000, "the edited context to roll out");
    expect(await (await fetch(`http://${after.ip}:8080/`)).text()).toBe("second\n");
  });
});
