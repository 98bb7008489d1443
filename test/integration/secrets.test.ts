import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createTestRuntime, projectContainers, removeProject, uniqueProject } from "../support/berth.ts";
import { createManifestDir } from "../support/manifest-dir.ts";
import { writeProject } from "../support/project.ts";
import { cliRunner } from "../support/cli.ts";
import { startServedDaemon } from "../support/served-daemon.ts";

const rt = createTestRuntime(inject("dockerHost"));
const project = uniqueProject("sec");
const dir = createManifestDir();
/** A secret no log line, id or hash could contain by chance, even 4 characters of it: no hex digit, no vowel. */
const secret = () => Array.from(randomBytes(16), (b) => "GHJKMNPQRSTVWXZghjkmnpqrstvwxz"[b % 30]).join("");
const FILE_SECRET = secret();
const DAEMON_SECRET = secret();
const LITERAL_SECRET = secret();
/** Every 4-character piece of a secret: none may leak either (a cut or a partial mask would show one). */
const pieces = (value: string) => Array.from({ length: value.length - 3 }, (_, i) => value.slice(i, i + 4));

afterAll(async () => {
  await removeProject(rt.docker, project);
  dir.cleanup();
});

const berth = cliRunner({ DOCKER_HOST: rt.dockerHost, SHOP_TOKEN: DAEMON_SECRET });

describe("secrets", () => {
  it("reach the container but never the logs, events, store or plan output", async () => {
    writeProject(dir, project, rt.dockerHost, {
      // The page serves the secrets, so the health probe's output carries them towards every sink.
      web: {
        command: ["sh", "-c", 'echo "$DB_PASSWORD $API_TOKEN $SIGNING_KEY" > /www/index.html; exec httpd -f -p 8080 -h /www'],
        healthCheck: "{http: {path: /, port: 8080}, interval: 1s, timeout: 1s}",
      },
    });
    dir.write("secrets/db.env", `DB_PASSWORD=${FILE_SECRET}\n`);
    dir.write(
      "svc-web.yaml",
      readFileSync(join(dir.dir, "svc-web.yaml"), "utf8") +
        `  env:\n    - {name: DB_PASSWORD, valueFrom: {envFile: secrets/db.env}}\n    - {name: API_TOKEN, valueFrom: {daemonEnv: SHOP_TOKEN}}\n    - {name: SIGNING_KEY, value: ${LITERAL_SECRET}, secret: true}\n`,
    );
    const db = `file:${dir.dir}/state/berth.db`;
    const plan = await berth("plan", dir.dir);
    const apply = await berth("apply", dir.dir, "--wait", "--timeout", "1m", "--db", db, "--log-level", "debug");
    expect(apply.code, apply.out).toBe(0);
    const status = await berth("status", "-o", "yaml", "--db", db);
    const events = await berth("events", "--db", db, "--limit", "500");
    const health = await berth("health", `Service/${project}-dev/web`, "--db", db);
    const again = await berth("plan", dir.dir);

    const [container] = await projectContainers(rt.docker, project);
    const env = (await rt.docker.getContainer(container!.Id).inspect()).Config.Env;
    expect(env).toEqual(expect.arrayContaining([`DB_PASSWORD=${FILE_SECRET}`, `API_TOKEN=${DAEMON_SECRET}`, `SIGNING_KEY=${LITERAL_SECRET}`]));
    expect(health.out).toContain("***");

    const stateFiles = readdirSync(join(dir.dir, "state")).map((f) => readFileSync(join(dir.dir, "state", f)).toString("latin1"));
    const sinks = { plan: plan.out + again.out, logs: apply.out, status: status.out, events: events.out, health: health.out, store: stateFiles.join("") };
    for (const [sink, text] of Object.entries(sinks)) {
      for (const value of [FILE_SECRET, DAEMON_SECRET, LITERAL_SECRET]) {
        expect(text.includes(value), `${sink} contains a secret`).toBe(false);
        for (const piece of pieces(value)) expect(text.includes(piece), `${sink} contains ${piece}, 4 characters of a secret`).toBe(false);
      }
    }
  });

  it("never reach the running daemon's /metrics, /readyz or API answers", async () => {
    const served = await startServedDaemon({ dir: dir.dir, db: "file::memory:", env: { DOCKER_HOST: rt.dockerHost, SHOP_TOKEN: DAEMON_SECRET } });
    const { daemon, get, logs } = served;
    try {
      expect((await daemon.manager.settle({ timeoutMs: 45_000, ready: true })).pending).toEqual([]);
      // Let a few probes of the page (which prints the secrets) land in health rows and metrics.
      await new Promise((r) => setTimeout(r, 2_500));
      const sinks = {
        metrics: await get("/metrics"),
        readyz: await get("/readyz"),
        resources: await get("/api/v1/resources"),
        events: await get("/api/v1/events?limit=500"),
        health: await get(`/api/v1/health?service=Service/${project}-dev/web&limit=500`),
        rollout: await get(`/api/v1/services/${project}-dev/web/rollout`),
        logs: logs.join("\n"),
      };
      expect(sinks.health).toContain("***");
      for (const [sink, text] of Object.entries(sinks)) {
        for (const value of [FILE_SECRET, DAEMON_SECRET, LITERAL_SECRET]) {
          for (const piece of pieces(value)) expect(text.includes(piece), `${sink} contains ${piece}, 4 characters of a secret`).toBe(false);
        }
      }
    } finally {
      await served.close();
    }
  }, 90_000);
});

