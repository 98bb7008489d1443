import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { Daemon } from "../../src/engine/daemon.ts";
import { applyOnce, createTestRuntime, eventually, projectContainers, removeProject, runDaemon, uniqueProject } from "../support/berth.ts";
import { createManifestDir, type ManifestDir } from "../support/manifest-dir.ts";
import { writeProject, type TestService } from "../support/project.ts";
import { startTestSshd, type TestSshd } from "../support/sshd.ts";
import { cliRunner } from "../support/cli.ts";

const rt = createTestRuntime(inject("dockerHost"));
const projects: string[] = [];
let sshd: TestSshd;
let dir: ManifestDir | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  sshd = await startTestSshd();
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  dir?.cleanup();
});
afterAll(async () => {
  for (const p of projects) await removeProject(rt.docker, p);
  await sshd?.stop();
});

const CHECK = "{http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2}";
const services: Record<string, TestService> = { web: { replicas: 2, healthCheck: CHECK }, worker: { command: ["sleep", "3600"] } };

function newProject(prefix: string): string {
  const project = uniqueProject(prefix);
  projects.push(project);
  return project;
}

const sshTarget = (hostKey = sshd.fingerprint) => ({ port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, hostKey });

const berth = cliRunner({ DOCKER_HOST: rt.dockerHost });

/** A plan with the project's name taken out, to compare plans of two projects. */
const normalized = (plan: string, project: string) => plan.replaceAll(project, "P").replace(/-[0-9a-f]{7}\b/g, "-HASH");

describe("ssh targets", () => {
  it("converge an environment exactly as a local one does, and berth plan works over SSH", async () => {
    const local = newProject("l");
    const remote = newProject("s");
    const localDir = createManifestDir();
    dir = createManifestDir();
    try {
      writeProject(localDir, local, rt.dockerHost, services);
      writeProject(dir, remote, rt.dockerHost, services, { ssh: sshTarget(sshd.hostKeyLine) });

      const localPlan = await berth("plan", localDir.dir);
      const remotePlan = await berth("plan", dir.dir);
      expect(remotePlan.stderr).toBe("");
      expect(remotePlan.code).toBe(0);
      expect(remotePlan.stdout).toContain(`+ Service/${remote}-dev/web: create (new service: rolling update, 2 replicas`);
      expect(normalized(remotePlan.stdout, remote)).toBe(normalized(localPlan.stdout, local));

      const applied = await applyOnce(dir.dir, rt, { wait: true });
      expect(applied.pending).toEqual([]);
      expect(applied.ok).toBe(true);
      const containers = await projectContainers(rt.docker, remote);
      expect(containers.map((c) => c.Names[0]!.replace(/-[0-9a-f]{7}$/, "")).sort()).toEqual([`/${remote}-${remote}-dev-web-0`, `/${remote}-${remote}-dev-web-1`, `/${remote}-${remote}-dev-worker-0`]);
      expect(containers.every((c) => c.State === "running" && c.Labels["dev.berth.target"] === `${remote}-engine`)).toBe(true);
      // Health came through the tunnel: the prober reached the containers' addresses from the remote side.
      expect(applied.status.find((s) => s.name === `${remote}-dev/web`)).toMatchObject({ phase: "Running", ready: true });

      const again = await berth("plan", dir.dir, "--detailed-exitcode");
      expect(again.stdout).toContain("No changes");
      expect(again.code).toBe(0);
    } finally {
      localDir.cleanup();
    }
  });

  it("refuse a host presenting another key, naming both fingerprints, and create nothing", async () => {
    const project = newProject("k");
    dir = createManifestDir();
    const wrong = `SHA256:${"A".repeat(43)}`;
    writeProject(dir, project, rt.dockerHost, services, { ssh: sshTarget(wrong) });
    const mark = rt.calls.length;
    const applied = await applyOnce(dir.dir, rt, { wait: true, timeoutMs: 20_000 });
    expect(applied.ok).toBe(false);
    const target = applied.status.find((s) => s.kind === "DeploymentTarget");
    expect(target?.phase).toBe("Unreachable");
    expect(target?.message).toContain(`expected ${wrong}, presented ${sshd.fingerprint}`);
    expect(rt.mutations(mark)).toEqual([]);
    expect(await projectContainers(rt.docker, project)).toEqual([]);
    expect(await rt.docker.listNetworks({ filters: { label: [`dev.berth.project=${project}`] } })).toEqual([]);
  });

  it("an sshd going down makes only its target unreachable; the local environment keeps converging, and the remote one converges again when sshd returns", async () => {
    const local = newProject("l");
    const remote = newProject("s");
    dir = createManifestDir();
    const nested: ManifestDir = { ...dir, write: (file, content) => dir!.write(`remote/${file}`, content) };
    writeProject(dir, local, rt.dockerHost, { web: {} });
    writeProject(nested, remote, rt.dockerHost, { api: {} }, { ssh: sshTarget() });
    daemon = await runDaemon(dir.dir, rt);
    expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
    const phase = (target: string) => daemon!.manager.targetStatus().find((t) => t.name === target)?.phase;

    await sshd.kill();
    await eventually(async () => (phase(`${remote}-engine`) === "Unreachable" ? true : undefined), 45_000, "the ssh target to be unreachable");
    expect(phase(`${local}-engine`)).toBe("Active");

    // Drift on both sides while the remote target is down.
    const [localVictim] = await projectContainers(rt.docker, local);
    const [remoteVictim] = await projectContainers(rt.docker, remote);
    await rt.docker.getContainer(localVictim!.Id).remove({ force: true });
    await rt.docker.getContainer(remoteVictim!.Id).remove({ force: true });
    const repairedLocally = await eventually(async () => {
      const [c] = await projectContainers(rt.docker, local);
      return c && c.Id !== localVictim!.Id && c.State === "running" ? c : undefined;
    }, 20_000, "the local container to be repaired while the ssh target is down");
    expect(repairedLocally).toBeDefined();
    expect(await projectContainers(rt.docker, remote)).toEqual([]);

    await sshd.restart();
    await eventually(async () => (phase(`${remote}-engine`) === "Active" ? true : undefined), 60_000, "the ssh target to reconnect");
    const back = await eventually(async () => {
      const [c] = await projectContainers(rt.docker, remote);
      return c && c.State === "running" ? c : undefined;
    }, 30_000, "the remote environment to converge again");
    expect(back.Labels["dev.berth.target"]).toBe(`${remote}-engine`);
  });
});
