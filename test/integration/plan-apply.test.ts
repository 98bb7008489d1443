import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { PlanChange } from "../../src/engine/plan-change.ts";
import { openStore } from "../../src/store/index.ts";
import { createTestRuntime, removeProject, uniqueProject } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { createManifestDir } from "../support/manifest-dir.ts";
import { writeProject, writeService, type TestService } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const project = uniqueProject("pa");
const dir = createManifestDir();
const dbDir = mkdtempSync(join(tmpdir(), "berth-plan-apply-"));
const db = `file:${dbDir}/berth.db`;
const berth = cliRunner({ DOCKER_HOST: rt.dockerHost });
const env = `${project}-dev`;
const OTHER_IMAGE = "berth-test/busybox:plan-apply";

afterAll(async () => {
  await removeProject(rt.docker, project);
  await rt.docker.getImage(OTHER_IMAGE).remove().catch(() => {});
  dir.cleanup();
  rmSync(dbDir, { recursive: true, force: true });
});

const CHECK = "{http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2}";
const web: TestService = { command: ["sh", "-c", "exec httpd -f -p 8080 -h /www"], healthCheck: CHECK, env: { V: "1" } };

/** One step of the table: what the manifests become, and what plan must say about it. */
interface Step {
  name: string;
  write(): void;
  expected: Pick<PlanChange, "resource" | "action" | "fields">[];
}

const service = (name: string) => `Service/${env}/${name}`;

const steps: Step[] = [
  {
    name: "new service",
    write: () => writeProject(dir, project, rt.dockerHost, { web }),
    expected: [{ resource: `Network/${project}-${env}`, action: "create", fields: ["spec.network"] }, { resource: service("web"), action: "create", fields: [] }],
  },
  { name: "image change", write: () => writeService(dir, project, "web", webAt(1)), expected: [{ resource: service("web"), action: "rollout", fields: ["spec.image"] }] },
  { name: "env change", write: () => writeService(dir, project, "web", webAt(2)), expected: [{ resource: service("web"), action: "rollout", fields: ["spec.env"] }] },
  {
    name: "health check change",
    write: () => writeService(dir, project, "web", webAt(3)),
    expected: [{ resource: service("web"), action: "rollout", fields: ["spec.healthCheck"] }],
  },
  { name: "scale up", write: () => writeService(dir, project, "web", webAt(4)), expected: [{ resource: service("web"), action: "scale", fields: ["spec.replicas"] }] },
  { name: "scale down", write: () => writeService(dir, project, "web", webAt(5)), expected: [{ resource: service("web"), action: "scale", fields: ["spec.replicas"] }] },
  {
    name: "added volume",
    write: () => writeService(dir, project, "web", webAt(6)),
    expected: [{ resource: `Volume/${project}-${env}-data`, action: "create", fields: ["spec.volumes"] }, { resource: service("web"), action: "rollout", fields: ["spec.volumes"] }],
  },
  {
    name: "a secret added (new service with it)",
    write: () => {
      dir.write("secrets/worker.env", "TOKEN=first-secret-value-1\n");
      writeService(dir, project, "worker", { command: ["sleep", "3600"], envFiles: { TOKEN: "secrets/worker.env" } });
    },
    expected: [{ resource: service("worker"), action: "create", fields: [] }],
  },
  { name: "secret rotation", write: () => dir.write("secrets/worker.env", "TOKEN=second-secret-value-2\n"), expected: [{ resource: service("worker"), action: "rollout", fields: ["spec.env (a secret's value)"] }] },
  { name: "removed service", write: () => dir.remove("svc-worker.yaml"), expected: [{ resource: service("worker"), action: "delete", fields: [] }] },
];

/** The resource a mutating call was made for: its reason starts with the resource's name, as plan names it. */
function resourceOfAudit(reason: string | null): string {
  return (reason ?? "").split(":")[0]!;
}

describe("plan and apply make one decision", () => {
  it.each(steps.map((s, i) => [s.name, i] as const))("%s: the plan's changes are exactly the resources apply then mutates", async (_name, index) => {
    const step = steps[index]!;
    step.write();
    if (index === 1) await rt.docker.getImage("berth-test/busybox:1").tag({ repo: "berth-test/busybox", tag: "plan-apply" });

    const planned = await berth("plan", dir.dir, "-o", "json", "--db", db, "--detailed-exitcode");
    expect(planned.stderr).toBe("");
    const plan = JSON.parse(planned.stdout) as { changes: PlanChange[]; errors: unknown[] };
    expect(plan.errors).toEqual([]);
    expect(planned.code).toBe(2);
    expect(plan.changes.map(({ resource, action, fields }) => ({ resource, action, fields })).sort(byResource)).toEqual([...step.expected].sort(byResource));
    for (const change of plan.changes) expect(change.strategy === null || change.strategy === "rolling" || change.strategy === "recreate").toBe(true);
    // A service that mounts a named volume is replaced, not rolled (two writers would share the volume).
    const strategy = step.name === "added volume" ? /^recreate, \d replicas?$/ : /^rolling update, \d replicas?, maxSurge \d, maxUnavailable \d$/;
    for (const change of plan.changes.filter((c) => c.action === "rollout")) expect(change.reason).toMatch(strategy);

    const store = await openStore(db);
    const before = Math.max(0, ...(await store.audit.list({ limit: 10_000 })).map((a) => a.id));
    store.close();
    const applied = await berth("apply", dir.dir, "--wait", "--timeout", "90s", "--db", db);
    expect(applied.code, applied.out).toBe(0);

    const after = await openStore(db);
    const mutations = (await after.audit.list({ limit: 10_000 })).filter((a) => a.id > before);
    after.close();
    expect([...new Set(mutations.map((m) => resourceOfAudit(m.reason)))].sort()).toEqual([...new Set(plan.changes.map((c) => c.resource))].sort());
    // Each kind of change makes the kind of calls it says.
    for (const change of plan.changes) {
      const ops = new Set(mutations.filter((m) => resourceOfAudit(m.reason) === change.resource).map((m) => m.operation));
      if (change.action === "delete") expect([...ops].every((op) => op.endsWith(".stop") || op.endsWith(".remove"))).toBe(true);
      if (change.action === "create" || change.action === "rollout") expect([...ops].some((op) => op.endsWith(".create"))).toBe(true);
      if (change.action === "scale") expect(ops.has("container.create") !== ops.has("container.remove")).toBe(true);
    }

    const again = await berth("plan", dir.dir, "--detailed-exitcode", "--db", db);
    expect(again.stdout, again.out).toContain("No changes");
    expect(again.code).toBe(0);
  });
});

function byResource(a: { resource: string }, b: { resource: string }): number {
  return a.resource.localeCompare(b.resource);
}

/** The web service as step `index` writes it: each step changes one thing of the one before. */
function webAt(index: number): TestService {
  const images = index >= 1 ? { image: OTHER_IMAGE } : {};
  const envs = index >= 2 ? { env: { V: "2" } } : {};
  const check = index >= 3 ? { healthCheck: "{http: {path: /index.html, port: 8080}, interval: 1s, timeout: 1s, retries: 2}" } : {};
  const replicas = index === 4 ? { replicas: 3 } : {};
  const volumes = index >= 6 ? { volumes: "[{type: volume, source: data, target: /data}]" } : {};
  return { ...web, ...images, ...envs, ...check, ...replicas, ...volumes };
}
