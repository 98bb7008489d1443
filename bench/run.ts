/**
 * Berth's benchmark: one table of ratios, each measured against its peer or
 * the raw-API floor in the same run on one private engine. Prints the table,
 * writes it as JSON (bench/latest.json) and as docs/benchmarks.md with the
 * machine it ran on. Asserts nothing: the targets are shown as met or not.
 *
 *   npm run bench [-- --sizes 20,100 --services 200 --heals 5]
 *
 * Engine: BERTH_BENCH_DOCKER_HOST if set, else a private dockerd (needs root and docker.io).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildBusyboxImage } from "../src/docker/busybox-image.ts";
import { DockerDriver } from "../src/docker/driver.ts";
import { buildDemoImages } from "../src/docker/demo-images.ts";
import { connectDocker } from "../src/docker/connection.ts";
import { startTestEngine, type TestEngine } from "../test/support/engine.ts";
import { startApiCounter } from "./support/api-counter.ts";
import { IMAGE, removeByLabel, sleepers, writeManifests, type Row } from "./suite/common.ts";
import { convergeRows } from "./suite/converge.ts";
import { converged, footprint, footprintRows, healRow, startDaemon } from "./suite/daemon.ts";
import { machine, renderMarkdown, renderTable, writeResults } from "./suite/report.ts";
import { rolloutRows } from "./suite/rollout.ts";
import { startupRows } from "./suite/startup.ts";

const { values } = parseArgs({ options: { sizes: { type: "string", default: "20,100" }, services: { type: "string", default: "200" }, heals: { type: "string", default: "5" }, idle: { type: "string", default: "20" } } });
const sizes = values.sizes.split(",").map(Number);
const many = Number(values.services);

const given = process.env.BERTH_BENCH_DOCKER_HOST;
if (given) process.env.BERTH_TEST_DOCKER_HOST = given;
let engine: TestEngine | undefined;
const work = mkdtempSync(join(tmpdir(), "berth-bench-"));
const rows: Row[] = [];
const daemons: { stop(): Promise<void> }[] = [];
const step = (what: string) => process.stderr.write(`bench: ${what}\n`);
// A stray failure is shown with its stack before the teardown, whatever raised it.
for (const event of ["unhandledRejection", "uncaughtException"] as const) process.on(event, (error) => process.stderr.write(`bench: ${event}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`));
try {
  engine = await startTestEngine();
  const docker = connectDocker(engine.host);
  const driver = new DockerDriver("bench", docker);
  await buildBusyboxImage(driver, IMAGE, "bench\n");
  await buildDemoImages(driver);
  const counter = await startApiCounter(engine.host.replace(/^unix:\/\//, ""), join(work, "counted.sock"));

  step("start-up");
  rows.push(...(await startupRows()));
  for (const n of sizes) {
    step(`cold converge and no-op pass, N=${n}`);
    rows.push(...(await convergeRows(docker, counter, work, n, engine.host)));
  }
  step("rolling update");
  rows.push(...(await rolloutRows(docker, engine.host, work)));

  step("daemon footprint with the example");
  // The example's store goes to the scratch directory, never into the repository's manifests.
  const example = await startDaemon("manifests", { DOCKER_HOST: engine.host }, undefined, join(work, "example.db"));
  daemons.push(example);
  await converged(docker, "dev.berth.project=demo");
  rows.push(...footprintRows("example (3 services, 2 environments)", await footprint(example.child.pid!, Number(values.idle) * 1000), 90));
  await example.stop();
  await removeByLabel(docker, "dev.berth.project=demo");

  step(`daemon footprint and drift heal, ${many} services`);
  const dir = mkdtempSync(join(work, "many-"));
  writeManifests(dir, engine.host, "many", sleepers(many).berth);
  const daemon = await startDaemon(dir, {});
  daemons.push(daemon);
  await converged(docker, "dev.berth.project=many", many);
  rows.push(...footprintRows(`${many} services`, await footprint(daemon.child.pid!, Number(values.idle) * 1000), 120, 1));
  rows.push(await healRow(docker, "many", "many-manye", Number(values.heals)));
  await daemon.stop();
  await removeByLabel(docker, "dev.berth.project=many");
  await counter.close();

  const info = await machine(docker);
  process.stdout.write(`${renderTable(rows, info)}\n`);
  writeResults(rows, info, renderMarkdown(rows, info));
} catch (error) {
  // Said first: a failure while the engine is torn down must not hide it.
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  for (const daemon of daemons) await daemon.stop().catch(() => {});
  await engine?.stop().catch((error) => process.stderr.write(`bench: the private engine did not stop cleanly: ${String(error)}\n`));
  rmSync(work, { recursive: true, force: true });
}
