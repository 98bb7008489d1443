import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { demuxLogs } from "../../src/docker/driver.ts";
import { median, removeByLabel, until, writeManifests, type Row } from "./common.ts";
import { startDaemon } from "./daemon.ts";

const HTTPD_IMAGE = "berth-bench/busybox:1";
/** The old process ignores SIGTERM and keeps serving: only the grace period's SIGKILL ends it. */
const STUBBORN = ["sh", "-c", "trap '' TERM; sleep 1; httpd -f -p 8080 -h /www & wait"];
/** Calls the backend by name, a new connection per request, one at a time. */
const CLIENT = ["sh", "-c", "while true; do if timeout 3 wget -q -O /dev/null http://api:8080/; then echo ok; else echo FAIL; fi; sleep 0.05; done"];

const api = (version: string) =>
  `  image: "${HTTPD_IMAGE}"\n  imagePullPolicy: Never\n  replicas: 2\n  command: ${JSON.stringify(STUBBORN)}\n  stopGracePeriod: 10s\n  env: [{name: V, value: "${version}"}]\n  healthCheck: {http: {path: /, port: 8080}, interval: 1s, timeout: 1s, retries: 2}\n  update: {strategy: rolling, maxSurge: 1, maxUnavailable: 0, healthTimeout: 60s}`;
const client = `  image: "${HTTPD_IMAGE}"\n  imagePullPolicy: Never\n  command: ${JSON.stringify(CLIENT)}\n  dependsOn: [{service: api, condition: service_healthy}]`;

/** How long one container of the backend takes from its start until it answers HTTP (polled every 20 ms from outside). */
async function startToHealthy(docker: Docker, network: string, samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const c = await docker.createContainer({ name: `start-healthy-${i}`, Image: HTTPD_IMAGE, Cmd: STUBBORN, Labels: { bench: "start-healthy" }, HostConfig: { NetworkMode: network } });
    const started = performance.now();
    await c.start();
    const ip = (await c.inspect()).NetworkSettings.Networks[network]!.IPAddress;
    await until(async () => ((await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(200) }).then((r) => r.ok, () => false)) ? true : undefined), 30_000, 20);
    times.push(performance.now() - started);
  }
  await removeByLabel(docker, "bench=start-healthy");
  return median(times);
}

/**
 * A rolling update of a 2-replica backend whose old containers ignore
 * SIGTERM (10 s grace), while a client calls it by name: the time from the
 * manifest change to the rollout's success, and the client's failed requests.
 */
export async function rolloutRows(docker: Docker, host: string, work: string): Promise<Row[]> {
  const dir = mkdtempSync(join(work, "rollout-"));
  writeManifests(dir, host, "roll", { api: api("1"), client });
  const daemon = await startDaemon(dir, {});
  try {
    const deployments = async () => ((await (await fetch(`http://127.0.0.1:${daemon.port}/api/v1/deployments?service=Service/rolle/api`)).json()) as { items: { id: number; status: string; startedAt: number; completedAt: number | null }[] }).items;
    const first = await until(async () => (await deployments()).find((d) => d.status === "success"), 120_000, 100);
    // The client waits for the backend to be healthy: it starts after the backend's rollout.
    const clientContainer = await until(async () => (await docker.listContainers({ filters: { label: ["dev.berth.project=roll", "dev.berth.service=client"] } }))[0], 60_000, 100);
    const log = async () => demuxLogs(await docker.getContainer(clientContainer.Id).logs({ stdout: true, stderr: true }));
    await until(async () => ((await log()).includes("ok") ? true : undefined), 30_000, 100);
    const before = (await log()).split("\n").filter(Boolean).length;

    const changed = performance.now();
    writeManifests(dir, host, "roll", { api: api("2"), client });
    const second = await until(async () => (await deployments()).find((d) => d.id !== first.id && !["pending", "in_progress"].includes(d.status)), 180_000, 50);
    const rolloutMs = performance.now() - changed;
    if (second.status !== "success") throw new Error(`the benchmark's rolling update ended ${second.status}`);
    const lines = (await log()).split("\n").filter(Boolean).slice(before);
    const failed = lines.filter((l) => l === "FAIL").length;
    const reference = await startToHealthy(docker, "roll-rolle", 3);
    const limit = 2 * reference + 3_000;
    return [
      { name: "rolling update, 2 replicas ignoring SIGTERM (10 s grace)", berth: rolloutMs, reference, against: "one container start-to-healthy", unit: "ms", ratio: rolloutMs / reference, target: "≤ 2 × ref + 3 s", met: rolloutMs <= limit, note: `limit ${Math.round(limit)} ms; the record's own start-to-success ${second.completedAt! - second.startedAt} ms` },
      { name: "rolling update: client requests by name that failed", berth: failed, reference: lines.length, against: "requests made during the update", unit: "calls", ratio: failed / Math.max(1, lines.length), target: "0", met: failed === 0 },
    ];
  } finally {
    await daemon.stop();
    await removeByLabel(docker, "dev.berth.project=roll");
  }
}
