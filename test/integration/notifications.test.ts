import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { createRuntime, type Runtime } from "../../src/cli/runtime.ts";
import { startDaemon, type Daemon } from "../../src/engine/daemon.ts";
import type { NotificationPayload } from "../../src/notify/payload.ts";
import { createTestRuntime, eventually, removeProject, uniqueProject } from "../support/berth.ts";
import { createManifestDir, type ManifestDir } from "../support/manifest-dir.ts";
import { freePort } from "../support/processes.ts";
import { writeProject, writeService, type TestService } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const projects: string[] = [];
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  for (const p of projects) await removeProject(rt.docker, p);
});

const TOKEN = "hook-token-7f3a9c1e5b";
const SIGNING_KEY = "signing-key-4d2e8b0a6c";
const CHECK = "{http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2}";
const serving = ["sh", "-c", "exec httpd -f -p 8080 -h /www"];
/** Runs, but answers 404 to the health check: a bad revision. */
const broken = ["sh", "-c", "mkdir -p /tmp/empty; exec httpd -f -p 8080 -h /tmp/empty"];

/** A webhook receiver on loopback: keeps every request; can be started late (as if it had been down). */
function webhookReceiver(port: number) {
  const requests: { path: string; signature: string | undefined; body: string }[] = [];
  let server: Server | undefined;
  return {
    requests,
    payloads: () => requests.map((r) => JSON.parse(r.body) as NotificationPayload),
    url: `http://127.0.0.1:${port}/hooks/${TOKEN}`,
    async start() {
      server = createServer((req, res) => {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        req.on("end", () => {
          requests.push({ path: req.url ?? "", signature: req.headers["x-berth-signature-256"] as string | undefined, body });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
      cleanups.push(() => new Promise((resolve) => server!.close(resolve)));
    },
  };
}

/** A manifests directory that is a git repository, and the database the daemon keeps across restarts. */
function setup() {
  const project = uniqueProject("n");
  projects.push(project);
  const dir: ManifestDir = createManifestDir();
  const data = mkdtempSync(join(tmpdir(), "berth-notify-db-"));
  cleanups.push(() => dir.cleanup(), () => rmSync(data, { recursive: true, force: true }));
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: dir.dir, encoding: "utf8" }).trim();
  git("init", "-q");
  const commit = () => {
    git("add", "-A");
    git("commit", "-q", "-m", "change");
    return git("rev-parse", "HEAD");
  };
  return { project, dir, db: `file:${join(data, "berth.db")}`, commit };
}

function writeManifests(dir: ManifestDir, project: string, web: TestService): void {
  writeProject(dir, project, rt.dockerHost, { web });
  dir.write("hooks.env", `HOOK_KEY=${SIGNING_KEY}\n`);
  // The Project is base.yaml's last document: its spec gets the receiver.
  const base = readFileSync(join(dir.dir, "base.yaml"), "utf8");
  dir.write("base.yaml", `${base}spec:\n  notifications:\n    - {name: hook, urlFrom: {daemonEnv: HOOK_URL}, signingSecretFrom: {envFile: hooks.env, key: HOOK_KEY}, format: json, events: [rollout.succeeded, rollout.failed, rollout.rolled_back]}\n`);
}

/** What `berth run` composes: runtime (store, recorder, notifier) and daemon, with the notifier sending. */
async function startBerth(dir: string, db: string, hookUrl: string): Promise<{ runtime: Runtime; daemon: Daemon; logs: string[]; stop: () => Promise<void> }> {
  const logs: string[] = [];
  const runtime = await createRuntime({ stdout: () => {}, stderr: (line) => void logs.push(line), env: { DOCKER_HOST: rt.dockerHost, HOOK_URL: hookUrl } }, { logFormat: "json", logLevel: "debug", db });
  const daemon = await startDaemon({ ...runtime.managerOptions, dir, debounceMs: 100, resyncMs: 500 });
  runtime.notifier.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await daemon.stop();
    await runtime.close();
  };
  cleanups.push(stop);
  return { runtime, daemon, logs, stop };
}

function verify(request: { signature: string | undefined; body: string }): void {
  expect(request.signature).toBe(`sha256=${createHmac("sha256", SIGNING_KEY).update(request.body).digest("hex")}`);
}

/** Lets the delivery loop run on: nothing more may arrive. */
const quiet = () => new Promise((r) => setTimeout(r, 3000));

describe("notifications", () => {
  it("tells a webhook once that a good revision succeeded and once that a failing one was rolled back, signed, with its commit", { timeout: 150_000 }, async () => {
    const { project, dir, db, commit } = setup();
    const hook = webhookReceiver(await freePort());
    await hook.start();
    const web: TestService = { command: serving, healthCheck: CHECK, update: "{healthTimeout: 20s}", env: { V: "good" } };
    writeManifests(dir, project, web);
    const goodCommit = commit();
    const berth = await startBerth(dir.dir, db, hook.url);
    const succeeded = await eventually(async () => hook.payloads().find((p) => p.event === "rollout.succeeded"), 60_000, "rollout.succeeded");
    const key = `Service/${project}-dev/web`;
    const [good] = await berth.runtime.store.deployments.list({ service: key });
    expect(succeeded).toMatchObject({ project, environment: `${project}-dev`, service: "web", revision: good!.revision, commit: goodCommit, outcome: "succeeded" });
    expect(succeeded.duration).toBeGreaterThan(0);

    writeService(dir, project, "web", { ...web, command: broken, env: { V: "bad" } });
    const badCommit = commit();
    const rolledBack = await eventually(async () => hook.payloads().find((p) => p.event === "rollout.rolled_back"), 90_000, "rollout.rolled_back");
    const [bad] = await berth.runtime.store.deployments.list({ service: key });
    expect(bad!.status).toBe("rolled_back");
    expect(rolledBack).toMatchObject({ project, environment: `${project}-dev`, service: "web", revision: bad!.revision, commit: badCommit, outcome: "rolled_back", imageDigest: bad!.imageDigest ?? null });
    expect(rolledBack.message).toContain("status 404");
    expect(rolledBack.duration).toBeGreaterThan(1);

    await quiet();
    expect(hook.payloads().map((p) => p.event)).toEqual(["rollout.succeeded", "rollout.rolled_back"]);
    for (const request of hook.requests) verify(request);
    expect(hook.requests.every((r) => r.path === `/hooks/${TOKEN}`)).toBe(true);
    // The URL's token and the signing key are secrets: in no log line and no outbox row.
    const rows = JSON.stringify(await berth.runtime.store.notifications.list());
    for (const secret of [TOKEN, SIGNING_KEY]) {
      expect(berth.logs.join("\n")).not.toContain(secret);
      expect(rows).not.toContain(secret);
    }
  });

  it("delivers to a receiver that was down once it is back, exactly once, having logged the failure once", { timeout: 120_000 }, async () => {
    const { project, dir, db, commit } = setup();
    const hook = webhookReceiver(await freePort());
    writeManifests(dir, project, { command: serving, healthCheck: CHECK, env: { V: "1" } });
    commit();
    const berth = await startBerth(dir.dir, db, hook.url);
    const { notifications } = berth.runtime.store;
    // Refused at least three times (1 s, 2 s, 4 s apart) while nothing listens.
    await eventually(async () => ((await notifications.list())[0]?.attempts ?? 0) >= 3 || undefined, 60_000, "three failed attempts");
    await hook.start();
    await eventually(async () => (await notifications.list())[0]?.state === "delivered" || undefined, 30_000, "delivery after the receiver came back");
    await quiet();
    expect(hook.payloads().map((p) => p.event)).toEqual(["rollout.succeeded"]);
    verify(hook.requests[0]!);
    const failing = berth.logs.filter((l) => l.includes("notification delivery failing"));
    expect(failing).toHaveLength(1);
    expect(failing[0]).toContain("ECONNREFUSED");
    expect(berth.logs.filter((l) => l.includes("notification delivery recovered"))).toHaveLength(1);
  });

  it("sends an outcome queued before a restart after it, without loss or duplicate", { timeout: 120_000 }, async () => {
    const { project, dir, db, commit } = setup();
    const hook = webhookReceiver(await freePort());
    writeManifests(dir, project, { command: serving, healthCheck: CHECK, env: { V: "1" } });
    const sha = commit();
    const first = await startBerth(dir.dir, db, hook.url);
    await eventually(async () => ((await first.runtime.store.notifications.list())[0]?.attempts ?? 0) >= 1 || undefined, 60_000, "a failed attempt");
    await first.stop();

    await hook.start();
    const second = await startBerth(dir.dir, db, hook.url);
    await eventually(async () => hook.requests[0], 30_000, "delivery by the restarted daemon");
    await quiet();
    expect(hook.payloads()).toHaveLength(1);
    expect(hook.payloads()[0]).toMatchObject({ event: "rollout.succeeded", project, service: "web", commit: sha });
    const rows = await second.runtime.store.notifications.list();
    expect(rows.map((r) => [r.receiver, r.state])).toEqual([[`Project/${project}/hook`, "delivered"]]);
  });
});
