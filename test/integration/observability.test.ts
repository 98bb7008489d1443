import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.ts";
import { createTestRuntime, eventually, projectContainers, removeProject, uniqueProject } from "../support/berth.ts";
import { createManifestDir, type ManifestDir } from "../support/manifest-dir.ts";
import { freePort, startChild, type Child } from "../support/processes.ts";
import { writeProject } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const project = uniqueProject("obs");
const work = mkdtempSync(join(tmpdir(), "berth-observability-"));
const db = `file:${work}/berth.db`;
let dir: ManifestDir;
let berth: Child;
let prometheus: Child;
let berthPort: number;
let promPort: number;

function startBerth(): Child {
  return startChild(process.execPath, ["bin/berth.js", "run", dir.dir, "--db", db, "--listen", `127.0.0.1:${berthPort}`, "--log-format", "json", "--resync", "10m"]);
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${berthPort}/metrics`)).text();
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && labels.split(",").every((pair) => l.includes(pair)));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : Number.NaN;
}

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(db);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

async function promQuery(query: string): Promise<{ status: string; data: { result: unknown[] } }> {
  const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(query)}`);
  return (await response.json()) as { status: string; data: { result: unknown[] } };
}

beforeAll(async () => {
  [berthPort, promPort] = [await freePort(), await freePort()];
  dir = createManifestDir();
  writeProject(dir, project, rt.dockerHost, {
    web: { replicas: 2, healthCheck: "{http: {path: /, port: 8080}, interval: 1s, timeout: 1s}" },
    db: { command: ["sh", "-c", "touch /tmp/ready; exec httpd -f -p 8080 -h /www"], healthCheck: "{exec: {command: [test, -f, /tmp/ready]}, interval: 1s, timeout: 1s}" },
  });
  berth = startBerth();
  writeFileSync(join(work, "prometheus.yml"), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: berth\n    static_configs:\n      - targets: ["127.0.0.1:${berthPort}"]\n`);
  prometheus = startChild("prometheus", [`--config.file=${work}/prometheus.yml`, `--storage.tsdb.path=${work}/prometheus`, `--web.listen-address=127.0.0.1:${promPort}`]);
  await eventually(async () => {
    const text = await metricsText();
    return metricValue(text, "berth_service_healthy", 'service="web"') === 1 && metricValue(text, "berth_service_healthy", 'service="db"') === 1 ? true : undefined;
  }, 60_000, `Berth to run both services healthy; its log:\n${berth.output().slice(-2000)}`);
}, 120_000);

afterAll(async () => {
  await berth?.stop();
  await prometheus?.stop();
  await removeProject(rt.docker, project);
  dir?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("observability of `berth run`", () => {
  it("answers /healthz and /readyz with every check", async () => {
    expect((await fetch(`http://127.0.0.1:${berthPort}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${berthPort}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { checks: { name: string; ok: boolean; latencyMs: number }[] };
    expect(body.checks.map((c) => [c.name, c.ok])).toEqual([["store", true], ["leader", true], ["manifests", true], [`target/${project}-engine`, true]]);
    expect(body.checks.find((c) => c.name === "leader")).toMatchObject({ detail: "this daemon leads" });
  });

  it("serves an exposition promtool accepts", async () => {
    const check = spawnSync("promtool", ["check", "metrics"], { input: await metricsText(), encoding: "utf8" });
    expect(check.stderr + check.stdout).toBe("");
    expect(check.status).toBe(0);
  });

  it("turns a container killed behind its back into a Warning event, a drift_checks row and drift metrics", async () => {
    const [victim] = (await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "web");
    await rt.docker.getContainer(victim!.Id).remove({ force: true });
    const drift = await eventually(() => withStore(async (s) => (await s.drift.list(`Service/${project}-dev/web`))[0]), 30_000, "a drift_checks row");
    expect(drift.repaired).toBe(true);
    expect(JSON.parse(drift.differences)).toEqual([expect.objectContaining({ path: `replica ${victim!.Labels["dev.berth.replica"]}`, desired: expect.stringContaining("running") })]);
    const warnings = await withStore((s) => s.events.list({ kind: "Service", name: `${project}-dev/web` }));
    expect(warnings.map((e) => `${e.type} ${e.reason}`)).toEqual(expect.arrayContaining(["Warning DriftDetected", "Warning ContainerDied"]));
    const text = await metricsText();
    expect(metricValue(text, "berth_drift_detected_total", 'kind="Service"')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, "berth_drift_repaired_total", 'kind="Service"')).toBeGreaterThanOrEqual(1);
  });

  it("gives data through a real Prometheus for every query of the shipped dashboard", async () => {
    await eventually(async () => ((await promQuery('berth_drift_repaired_total{kind="Service"} > 0')).data.result.length > 0 ? true : undefined), 30_000, "Prometheus to scrape Berth after the drift");
    // rate() needs two samples in its window.
    await eventually(async () => ((await promQuery('count_over_time(up{job="berth"}[1m]) >= 3')).data.result.length > 0 ? true : undefined), 30_000, "three scrapes");
    const dashboard = JSON.parse(readFileSync("docs/monitoring/grafana-dashboard.json", "utf8")) as { panels: { title: string; targets: { expr: string }[] }[] };
    const queries = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr.replaceAll("$__rate_interval", "1m") })));
    expect(queries.length).toBeGreaterThanOrEqual(10);
    for (const { panel, expr } of queries) {
      const result = await promQuery(expr);
      expect(result.status, `${panel}: ${expr}`).toBe("success");
      expect(result.data.result.length, `${panel}: ${expr} -> ${JSON.stringify(result)}`).toBeGreaterThan(0);
    }
  });

  it("keeps its history across a restart on the same database, adopting what runs", async () => {
    const before = await withStore(async (s) => ({ deployments: await s.deployments.list(), events: (await s.events.list({ limit: 1000 })).length, drift: (await s.drift.list()).length }));
    expect(before.deployments.length).toBeGreaterThanOrEqual(2);
    const containers = (await projectContainers(rt.docker, project)).map((c) => c.Id).sort();
    expect(await berth.stop()).toBe(0);
    berth = startBerth();
    await eventually(async () => ((await fetch(`http://127.0.0.1:${berthPort}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 30_000, "the restarted daemon to be ready");
    await eventually(async () => (metricValue(await metricsText(), "berth_service_healthy", 'service="web"') === 1 ? true : undefined), 30_000, "web healthy again");
    const after = await withStore(async (s) => ({ deployments: await s.deployments.list(), events: (await s.events.list({ limit: 1000 })).length, drift: (await s.drift.list()).length }));
    expect(after.deployments).toEqual(before.deployments);
    expect(after.events).toBeGreaterThanOrEqual(before.events);
    expect(after.drift).toBe(before.drift);
    expect((await projectContainers(rt.docker, project)).map((c) => c.Id).sort()).toEqual(containers);
  });
});
