import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type Docker from "dockerode";
import { COMMAND, IMAGE, median, removeByLabel, timed, until, type Row } from "./common.ts";

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `berth run DIR` as a separate process, as operators run it; resolves once /readyz says every resource converged. */
export async function startDaemon(dir: string, env: NodeJS.ProcessEnv, timeoutMs = 600_000, db = join(dir, "berth.db")): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ["bin/berth.js", "run", dir, "--db", `file:${db}`, "--listen", `127.0.0.1:${port}`, "--log-level", "warn"], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  try {
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`berth run exited with code ${child.exitCode}`);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      return ready ? true : undefined;
    }, timeoutMs, 100);
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, port, stop };
}

/** Resident memory of a process, in MB, as the kernel counts it. */
function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  return kb / 1024;
}

/** CPU seconds a process used so far (user + system). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Waits until the daemon has converged the project: `count` containers
 * running, or (count unknown) the same number running for 3 s. Ready
 * (/readyz) only says the daemon serves; footprint is measured once idle.
 */
export async function converged(docker: Docker, label: string, count?: number): Promise<void> {
  let last = -1;
  let stableSince = performance.now();
  await until(async () => {
    const running = (await docker.listContainers({ filters: { label: [label] } })).length;
    if (running !== last) [last, stableSince] = [running, performance.now()];
    if (count !== undefined) return running >= count ? true : undefined;
    return running > 0 && performance.now() - stableSince >= 3_000 ? true : undefined;
  }, 600_000, 250);
}

/** After the daemon converged: RSS once settled, and idle CPU over `idleMs` with nothing to do. */
export async function footprint(pid: number, idleMs: number): Promise<{ rss: number; cpuPercent: number }> {
  await new Promise((r) => setTimeout(r, 5_000));
  const before = cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, idleMs));
  const cpuPercent = ((cpuSeconds(pid) - before) / (idleMs / 1000)) * 100;
  return { rss: rssMb(pid), cpuPercent };
}

export function footprintRows(label: string, measured: { rss: number; cpuPercent: number }, rssTarget: number, cpuTarget?: number): Row[] {
  const rows: Row[] = [{ name: `daemon RSS, ${label}`, berth: measured.rss, reference: rssTarget, against: "target", unit: "MB", ratio: measured.rss / rssTarget, target: `≤ ${rssTarget} MB`, met: measured.rss <= rssTarget }];
  if (cpuTarget !== undefined) rows.push({ name: `daemon idle CPU, ${label}`, berth: measured.cpuPercent, reference: cpuTarget, against: "target", unit: "%", ratio: measured.cpuPercent / cpuTarget, target: `≤ ${cpuTarget} %`, met: measured.cpuPercent <= cpuTarget });
  else rows.push({ name: `daemon idle CPU, ${label}`, berth: measured.cpuPercent, reference: NaN, against: "—", unit: "%", ratio: NaN, target: "—", met: true });
  return rows;
}

/** One container created and started through the API on `network`: the floor a heal is judged against. */
async function singleCreateStart(docker: Docker, network: string, samples: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    times.push(await timed(async () => {
      const c = await docker.createContainer({ name: `floor-heal-${i}`, Image: IMAGE, Cmd: COMMAND, Labels: { bench: "floor-heal" }, HostConfig: { NetworkMode: network } });
      await c.start();
    }));
  }
  await removeByLabel(docker, "bench=floor-heal");
  return median(times);
}

/** Removes a running container of the project behind the daemon's back and times until its replacement runs. */
export async function healRow(docker: Docker, project: string, network: string, samples: number): Promise<Row> {
  const heals: number[] = [];
  for (let i = 0; i < samples; i++) {
    const label = [`dev.berth.project=${project}`, `dev.berth.service=s${i}`];
    const [victim] = await docker.listContainers({ filters: { label } });
    if (!victim) throw new Error(`no running container of s${i} in ${project}`);
    const started = performance.now();
    await docker.getContainer(victim.Id).remove({ force: true });
    await until(async () => {
      const [back] = await docker.listContainers({ filters: { label } });
      return back && back.Id !== victim.Id && back.State === "running" ? true : undefined;
    }, 60_000, 10);
    heals.push(performance.now() - started);
  }
  const floor = await singleCreateStart(docker, network, samples);
  const heal = median(heals);
  return { name: "drift heal: rm -f -> running again", berth: heal, reference: floor, against: "floor: one create+start", unit: "ms", ratio: heal / floor, target: "≤ floor + 300 ms", met: heal <= floor + 300, note: `median of ${samples}; max ${Math.round(Math.max(...heals))} ms` };
}
