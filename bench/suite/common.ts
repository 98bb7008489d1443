import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";

/** One row of the benchmark table: Berth's figure beside the reference it is judged against, measured in the same run. */
export interface Row {
  name: string;
  berth: number;
  reference: number;
  /** What the reference is, e.g. "floor (parallel create+start)". */
  against: string;
  unit: "ms" | "MB" | "%" | "calls";
  /** berth / reference. */
  ratio: number;
  /** The target, as text, and whether it was met. */
  target: string;
  met: boolean;
  note?: string;
}

export const IMAGE = "berth-bench/busybox:1";
export const COMMAND = ["sleep", "86400"];

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

export async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 300_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("benchmark step timed out");
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Removes every container and network carrying `label`, and their anonymous volumes. */
export async function removeByLabel(docker: Docker, label: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true })));
  for (const n of await docker.listNetworks({ filters: { label: [label] } })) {
    // The engine may still be releasing the endpoints of containers it just removed ("has active endpoints").
    for (let attempt = 0; ; attempt++) {
      try {
        await docker.getNetwork(n.Id).remove();
        break;
      } catch (error) {
        if (!/active endpoints/.test(String(error)) || attempt < 8) {
          if (!/active endpoints/.test(String(error))) throw error;
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        // Docker 20.10 sometimes keeps counting an endpoint of a container removed in a burst, with nothing
        // attached to disconnect: the network stays on this throwaway engine, where it measures nothing.
        const attached = Object.keys(((await docker.getNetwork(n.Id).inspect()) as { Containers?: object }).Containers ?? {}).length;
        if (attached > 0) throw error;
        process.stderr.write(`bench: network ${n.Name} left behind (the engine counts a stale endpoint)\n`);
        break;
      }
    }
  }
}

/** Runs a program without blocking the event loop (the API counter answers in this process); fails on a non-zero exit, or after `timeoutMs`. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs?: number): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let timedOut = false;
  const timer = timeoutMs ? setTimeout(() => ((timedOut = true), child.kill("SIGKILL")), timeoutMs) : undefined;
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, stdout });
      else if (timedOut) reject(new HungError(`${command} ${args.join(" ")} did not finish within ${timeoutMs} ms`));
      else reject(new Error(`${command} ${args.join(" ")} failed (${code}):\n${stdout}\n${stderr}`));
    }),
  );
}

/** A peer that stopped making progress (docker-compose 1.29 sometimes deadlocks in its thread pool on a large project). */
export class HungError extends Error {}

/** Runs Berth's CLI from the compiled package, as users do. */
export function berth(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ ms: number; stdout: string }> {
  return run(process.execPath, ["bin/berth.js", ...args], env);
}

export function composeAvailable(): boolean {
  return spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" }).status === 0;
}

/** docker-compose runs that hung and were retried, for the report's notes. */
export const composeHangs: string[] = [];

/**
 * Runs docker-compose against `host`; returns how long it took. A run that
 * hangs is killed after 3 minutes, the project taken down, and run again
 * (at most twice); the report says so.
 */
export async function compose(host: string, file: string, project: string, args: string[], options: { noop?: boolean } = {}): Promise<number> {
  const once = (what: string[]) => run("docker-compose", ["-f", file, "-p", project, ...what], { DOCKER_HOST: host }, 180_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return (await once(args)).ms;
    } catch (error) {
      if (!(error instanceof HungError) || attempt >= 3) throw error;
      composeHangs.push(`docker-compose ${args.join(" ")} (${project}) hung and was run again`);
      await once(["down", "-t", "0"]);
      // A no-op pass is measured on a project that is up: brought up again first, unmeasured.
      if (options.noop) await once(["up", "-d"]);
    }
  }
}

const TARGET = (host: string) => `apiVersion: berth.dev/v1alpha1\nkind: DeploymentTarget\nmetadata: {name: bench}\nspec: {type: local, docker: {host: "${host}"}}`;

/** A Project, an Environment and `services` (YAML spec bodies by name) on the engine at `host`, in one file. */
export function writeManifests(dir: string, host: string, project: string, services: Record<string, string>): void {
  const docs = [
    TARGET(host),
    `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: ${project}}`,
    `apiVersion: berth.dev/v1alpha1\nkind: Environment\nmetadata: {name: ${project}e}\nspec: {project: ${project}, target: bench}`,
    ...Object.entries(services).map(([name, spec]) => `apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  project: ${project}\n${spec}`),
  ];
  writeFileSync(join(dir, "bench.yaml"), `${docs.join("\n---\n")}\n`);
}

/** N identical long-sleeping services, as Berth manifests and as a compose file. */
export function sleepers(n: number): { berth: Record<string, string>; compose: string } {
  const names = Array.from({ length: n }, (_, i) => `s${i}`);
  return {
    berth: Object.fromEntries(names.map((name) => [name, `  image: "${IMAGE}"\n  imagePullPolicy: Never\n  command: ${JSON.stringify(COMMAND)}\n  stopGracePeriod: 1s`])),
    compose: `version: "3.8"\nservices:\n${names.map((name) => `  ${name}:\n    image: ${IMAGE}\n    command: ${JSON.stringify(COMMAND)}\n    stop_grace_period: 1s\n`).join("")}`,
  };
}
