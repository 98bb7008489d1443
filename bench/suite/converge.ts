import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import type { startApiCounter } from "../support/api-counter.ts";
import { berth, COMMAND, compose, composeAvailable, composeHangs, IMAGE, removeByLabel, sleepers, timed, writeManifests, type Row } from "./common.ts";

type Counter = Awaited<ReturnType<typeof startApiCounter>>;

/** The raw-API floor: a network, then N creates+starts all at once through dockerode. */
async function floor(docker: Docker, n: number): Promise<number> {
  const network = `floor${n}`;
  const ms = await timed(async () => {
    await docker.createNetwork({ Name: network, Labels: { bench: network } });
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const c = await docker.createContainer({ name: `${network}-${i}`, Image: IMAGE, Cmd: COMMAND, Labels: { bench: network }, HostConfig: { NetworkMode: network } });
        await c.start();
      }),
    );
  });
  await removeByLabel(docker, `bench=${network}`);
  return ms;
}

/**
 * Cold converge of N services (floor, docker-compose, berth apply), all on
 * the engine's own socket as the floor is, then a no-op pass of each, Berth's
 * through the counting proxy so that its engine calls are counted.
 */
export async function convergeRows(docker: Docker, counter: Counter, work: string, n: number, engineHost: string): Promise<Row[]> {
  const floorMs = await floor(docker, n);
  const stacks = sleepers(n);
  const rows: Row[] = [];
  let composeCold: number | undefined;
  let composeNoop: number | undefined;
  if (composeAvailable()) {
    const file = join(work, `compose-${n}.yml`);
    writeFileSync(file, stacks.compose);
    composeCold = await compose(engineHost, file, `c${n}`, ["up", "-d"]);
    composeNoop = await compose(engineHost, file, `c${n}`, ["up", "-d"], { noop: true });
    await compose(engineHost, file, `c${n}`, ["down", "-t", "0"]);
  }
  const hangs = composeHangs.splice(0);
  const dir = mkdtempSync(join(work, `berth-${n}-`));
  writeManifests(dir, engineHost, `b${n}`, stacks.berth);
  const db = `file:${join(dir, "berth.db")}`;
  const cold = (await berth(["apply", dir, "--db", db, "--log-level", "warn", "--progress", "none"])).ms;
  // The same target through the proxy: only where the engine is reached changes, not a container.
  writeManifests(dir, counter.host, `b${n}`, stacks.berth);
  counter.reset();
  const noop = (await berth(["apply", dir, "--db", db, "--log-level", "warn", "--progress", "none"])).ms;
  const calls = counter.counts();
  await removeByLabel(docker, `dev.berth.project=b${n}`);

  rows.push({ name: `cold converge N=${n}`, berth: cold, reference: floorMs, against: "floor: parallel create+start", unit: "ms", ratio: cold / floorMs, target: "≤ 1.10", met: cold / floorMs <= 1.1 });
  if (composeCold !== undefined) rows.push({ name: `cold converge N=${n}`, berth: cold, reference: composeCold, against: "docker-compose up -d", unit: "ms", ratio: cold / composeCold, target: "≤ 0.80", met: cold / composeCold <= 0.8, note: `compose itself ${(composeCold / floorMs).toFixed(2)}× floor${hangs.length ? `; ${hangs.join("; ")}` : ""}` });
  if (composeNoop !== undefined) rows.push({ name: `no-op pass N=${n}`, berth: noop, reference: composeNoop, against: "docker-compose up -d (no-op)", unit: "ms", ratio: noop / composeNoop, target: "≤ 1.00", met: noop / composeNoop <= 1 });
  const perKind = Object.entries(calls.byCall).filter(([k]) => /^GET \/(containers|networks|volumes)\/json$|^GET \/volumes$|^GET \/networks$/.test(k));
  const maxList = Math.max(0, ...perKind.map(([, v]) => v));
  rows.push({ name: `no-op pass N=${n}: engine calls`, berth: calls.mutations, reference: maxList, against: "mutating calls; reference = most list calls of one kind", unit: "calls", ratio: NaN, target: "0 mutating, ≤ 2 lists per kind", met: calls.mutations === 0 && maxList <= 2, note: Object.entries(calls.byCall).map(([k, v]) => `${k} ${v}`).join(", ") });
  return rows;
}
