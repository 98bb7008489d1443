import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { openStore } from "../../../src/store/index.ts";
import { cliRunner } from "../../support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "berth-cli-store-"));
const db = `file:${dir}/berth.db`;

const run = cliRunner({});
/** Every command here reads the test's database. */
const berth = (...args: string[]) => run(...args, "--db", db);

beforeAll(async () => {
  const store = await openStore(db);
  await store.resources.declare({ key: "Service/prod/web", kind: "Service", name: "prod/web", spec: { image: "web:2" }, specHash: "h2" });
  await store.resources.report("Service/prod/web", { phase: "Running", message: "2/2 running, 2 ready", ready: true, converged: true });
  await store.resources.declare({ key: "Service/dev/web", kind: "Service", name: "dev/web", spec: { image: "web:2" }, specHash: "h2" });
  await store.resources.declare({ key: "Service/prod/db", kind: "Service", name: "prod/db", spec: {}, specHash: "h1" });
  await store.events.record({ type: "Warning", reason: "DriftDetected", message: "replica 0: container is exited -> running", kind: "Service", name: "prod/web" });
  await store.events.record({ type: "Normal", reason: "Connected", message: "Docker 20.10", kind: "DeploymentTarget", name: "local" });
  const id = await store.deployments.start({ service: "Service/prod/web", revision: "a".repeat(64), image: "web:2", commit: "c".repeat(40), previousRevision: "b".repeat(64) });
  await store.deployments.finish(id, { status: "success", healthCheckPassed: true });
  await store.health.insert([{ instance: "0123456789ab", service: "Service/prod/web", time: Date.now(), status: "healthy", checkType: "http", httpStatus: 200, output: "status 200: ok", responseMs: 4 }]);
  store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("commands that read the store", () => {
  it("refuse a database that does not exist instead of creating an empty one", async () => {
    const { code, stderr } = await run("status", "--db", `file:${dir}/typo.db`);
    expect(code).toBe(1);
    expect(stderr).toContain(`no store at file:${dir}/typo.db: nothing has been recorded there yet`);
  });

  it("status prints a table, and the same rows as json or yaml", async () => {
    const table = await berth("status");
    expect(table.stdout.split("\n")[0]).toMatch(/^KIND\s+NAME\s+PHASE\s+READY\s+UPDATED\s+MESSAGE$/);
    expect(table.stdout).toMatch(/Service\s+prod\/web\s+Running\s+yes\s+\d+s\s+2\/2 running, 2 ready/);
    const json = JSON.parse((await berth("status", "-o", "json")).stdout);
    expect(json.items.find((i: { key: string }) => i.key === "Service/prod/web")).toMatchObject({ phase: "Running", observedGeneration: 1, conditions: [{ type: "Ready", status: "True" }] });
    expect(parse((await berth("status", "-o", "yaml")).stdout).items).toHaveLength(3);
  });

  it("events lists everything, or one resource's", async () => {
    expect((await berth("events")).stdout).toContain("DeploymentTarget/local");
    const mine = await berth("events", "--for", "Service/prod/web");
    expect(mine.stdout).toMatch(/Warning\s+DriftDetected\s+Service\/prod\/web\s+1\s+replica 0/);
    expect(mine.stdout).not.toContain("DeploymentTarget/local");
  });

  it("history and health resolve Service/name to its only environment, or need --env", async () => {
    const history = await berth("history", "Service/db");
    expect(history.code).toBe(0);
    const web = await berth("history", "Service/web", "--env", "prod");
    expect(web.stdout).toMatch(/1\s+aaaaaaaaaaaa\s+success\s+manifest\s+cccccccccccc\s+web:2/);
    expect(JSON.parse((await berth("history", "Service/web", "--env", "prod", "-o", "json")).stdout).items[0].commit).toBe("c".repeat(40));
    const ambiguous = await berth("history", "Service/web");
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain("Service/web runs in several environments (dev, prod); expected --env, e.g. --env dev");
    const health = await berth("health", "Service/prod/web");
    expect(health.stdout).toMatch(/0123456789ab\s+healthy\s+http\s+200\s+4\s+status 200: ok/);
  });
});
