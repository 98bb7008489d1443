import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import type Docker from "dockerode";
import { connectDocker } from "../../src/docker/connection.ts";

/** A Docker engine the integration suites may use and must leave as they found it. */
export interface TestEngine {
  host: string;
  docker: Docker;
  stop(): Promise<void>;
}

export class TestEngineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`integration tests need a Docker engine: ${message}`, options);
    this.name = "TestEngineError";
  }
}

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  return dirs.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

async function waitForPing(docker: Docker, deadline: number, child?: ChildProcess): Promise<void> {
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new TestEngineError(`dockerd exited with code ${child.exitCode}`);
    try {
      await docker.ping();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new TestEngineError("the engine did not answer a ping in time", { cause: lastError });
}

/**
 * Uses the engine named by BERTH_TEST_DOCKER_HOST, or starts a private dockerd
 * with its own socket, data root and address pool. Never falls back to
 * skipping: no engine is an error.
 */
export async function startTestEngine(): Promise<TestEngine> {
  const given = process.env.BERTH_TEST_DOCKER_HOST;
  if (given) {
    const docker = connectDocker(given);
    await waitForPing(docker, Date.now() + 10_000).catch((error) => {
      throw new TestEngineError(`BERTH_TEST_DOCKER_HOST=${given} does not answer`, { cause: error });
    });
    return { host: given, docker, stop: async () => {} };
  }
  return startPrivateEngine();
}

/**
 * Starts a private dockerd of its own (socket, data root, exec root) with
 * addresses from `addressPool`: the shared test engine, or an engine a
 * suite needs to itself (a Swarm manager, or a worker in `netns`).
 */
export async function startPrivateEngine(addressPool = "172.30.0.0/16", options: { netns?: string } = {}): Promise<TestEngine> {
  const dockerd = findExecutable("dockerd");
  if (!dockerd) throw new TestEngineError("dockerd not found; install Debian's docker.io (apt-get install docker.io) or set BERTH_TEST_DOCKER_HOST");
  if (process.getuid?.() !== 0) throw new TestEngineError("starting a private dockerd needs root; run as root or set BERTH_TEST_DOCKER_HOST");

  const dir = mkdtempSync("/tmp/berth-engine-");
  const host = `unix://${dir}/docker.sock`;
  const logFile = join(dir, "dockerd.log");
  const log = openSync(logFile, "a");
  // In a network namespace of its own, the engine is another host as far as networking goes (a second Swarm node).
  const child = spawn(
    options.netns ? "nsenter" : dockerd,
    [
      // nsenter switches the network namespace only (ip netns exec would remount /sys and hide the cgroups).
      ...(options.netns ? [`--net=/run/netns/${options.netns}`, dockerd] : []),
      `--host=${host}`,
      `--data-root=${dir}/data`,
      `--exec-root=${dir}/exec`,
      `--pidfile=${dir}/dockerd.pid`,
      "--bridge=none",
      "--iptables=false",
      "--ip-masq=false",
      `--default-address-pool=base=${addressPool},size=24`,
      "--shutdown-timeout=2",
      "--log-level=warn",
    ],
    { stdio: ["ignore", log, log] },
  );
  const docker = connectDocker(host);
  try {
    await waitForPing(docker, Date.now() + 60_000, child);
  } catch (error) {
    child.kill("SIGKILL");
    const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n") : "";
    throw new TestEngineError(`private dockerd failed to start; its log ends with:\n${tail}`, { cause: error });
  }

  return {
    host,
    docker,
    async stop() {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timeout = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timeout);
      // A container on the host's network leaves the engine's netns mount behind: unmount it first.
      spawnSync("umount", ["-l", join(dir, "exec/netns/default")], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
