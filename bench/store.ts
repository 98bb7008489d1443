/**
 * Store throughput and the daemon's steady memory. Prints figures; asserts nothing.
 *
 *   npm run bench:store [-- --rows 10000 --services 200]
 *
 * 1. Writes N health results to an embedded libSQL file: one row per write (as
 *    the recorder does) and in batches of 500; reports rows/s and the file size.
 * 2. Runs `berth run` on S services against an engine (BERTH_BENCH_DOCKER_HOST,
 *    else a private dockerd) and samples the daemon's resident memory once it is steady.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildBusyboxImage } from "../src/docker/busybox-image.ts";
import { connectDocker } from "../src/docker/connection.ts";
import { DockerDriver } from "../src/docker/driver.ts";
import { createStore } from "../src/store/index.ts";
import { openDatabase } from "../src/store/store.ts";
import { startTestEngine, type TestEngine } from "../test/support/engine.ts";
import { freePort, startChild } from "../test/support/processes.ts";

const { values } = parseArgs({ options: { rows: { type: "string", default: "10000" }, services: { type: "string", default: "200" } } });
const rows = Number(values.rows);
const services = Number(values.services);
const work = mkdtempSync(join(tmpdir(), "berth-bench-store-"));

function healthRow(i: number) {
  return { instance: `c${i % 200}`, service: `Service/prod/s${i % 200}`, time: Date.now() + i, status: i % 17 ? "healthy" : "unhealthy", checkType: "http", httpStatus: 200, output: "status 200: ok", responseMs: 3.2 };
}

async function writeRows(): Promise<void> {
  for (const mode of ["one row per write", "batches of 500"] as const) {
    const file = join(work, `${mode.replace(/\W/g, "")}.db`);
    const store = createStore(await openDatabase(`file:${file}`));
    const started = performance.now();
    if (mode === "one row per write") for (let i = 0; i < rows; i++) await store.health.insert([healthRow(i)]);
    else await store.health.insert(Array.from({ length: rows }, (_, i) => healthRow(i)));
    const seconds = (performance.now() - started) / 1000;
    store.close();
    const bytes = statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    console.log(`health_results, ${mode.padEnd(18)} ${rows} rows in ${seconds.toFixed(2)} s = ${Math.round(rows / seconds)} rows/s; ${(bytes / rows).toFixed(0)} bytes/row on disk`);
  }
}

async function daemonMemory(): Promise<void> {
  const given = process.env.BERTH_BENCH_DOCKER_HOST;
  let engine: TestEngine | undefined;
  try {
    engine = given ? { host: given, docker: connectDocker(given), stop: async () => {} } : await startTestEngine();
    await buildBusyboxImage(new DockerDriver("bench", engine.docker), "berth-bench/busybox:1", "bench\n");
    const dir = join(work, "manifests");
    mkdirSync(dir, { recursive: true });
    const docs = [
      `apiVersion: berth.dev/v1alpha1\nkind: DeploymentTarget\nmetadata: {name: bench}\nspec: {type: local, docker: {host: "${engine.host}"}}`,
      `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: mem}`,
      `apiVersion: berth.dev/v1alpha1\nkind: Environment\nmetadata: {name: steady}\nspec: {project: mem, target: bench}`,
      ...Array.from({ length: services }, (_, i) => `apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata: {name: s${i}}\nspec: {project: mem, image: berth-bench/busybox:1, imagePullPolicy: Never, command: [sleep, "86400"], stopGracePeriod: 1s}`),
    ];
    writeFileSync(join(dir, "mem.yaml"), `${docs.join("\n---\n")}\n`);
    const port = await freePort();
    const started = performance.now();
    const daemon = startChild(process.execPath, ["bin/berth.js", "run", dir, "--db", `file:${work}/daemon.db`, "--listen", `127.0.0.1:${port}`, "--log-level", "warn", "--resync", "30s"]);
    const running = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text().catch(() => "");
      return text.split("\n").filter((l) => l.startsWith("berth_containers_running{") && l.endsWith(" 1")).length;
    };
    const deadline = Date.now() + 10 * 60_000;
    while ((await running().catch(() => 0)) < services) {
      if (daemon.process.exitCode !== null || Date.now() > deadline) throw new Error(`berth run did not converge ${services} services; its output ends:\n${daemon.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const convergedS = (performance.now() - started) / 1000;
    const samples: number[] = [];
    // Steady state: 60 s, covering two resyncs of all 200 services.
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 5_000));
      const rssKb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${daemon.process.pid}/status`, "utf8"))?.[1];
      samples.push(Number(rssKb) / 1024);
    }
    await daemon.stop();
    console.log(`berth run with ${services} services: converged in ${convergedS.toFixed(1)} s; resident memory over 60 s steady (2 resyncs): min ${Math.min(...samples).toFixed(0)} MiB, max ${Math.max(...samples).toFixed(0)} MiB, last ${samples.at(-1)!.toFixed(0)} MiB`);
    const leftovers = await engine.docker.listContainers({ all: true, filters: { label: ["dev.berth.project=mem"] } });
    await Promise.all(leftovers.map((c) => engine!.docker.getContainer(c.Id).remove({ force: true })));
  } finally {
    await engine?.stop();
  }
}

try {
  await writeRows();
  await daemonMemory();
} finally {
  rmSync(work, { recursive: true, force: true });
}
