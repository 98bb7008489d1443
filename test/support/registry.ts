import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, startChild, type Child } from "./processes.ts";

/** A private registry on loopback (Debian's docker-registry) that wants a user and password (htpasswd, bcrypt). */
export interface TestRegistry {
  /** host:port, as image references name it. */
  host: string;
  output(): string;
  stop(): Promise<void>;
}

export class TestRegistryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`registry tests need Debian's docker-registry and apache2-utils (apt-get install docker-registry apache2-utils): ${message}`, options);
    this.name = "TestRegistryError";
  }
}

/** Starts docker-registry with htpasswd auth and filesystem storage under a temp dir; Docker allows plain HTTP to 127.0.0.0/8. */
export async function startRegistry(user: string, password: string): Promise<TestRegistry> {
  const dir = mkdtempSync("/tmp/berth-registry-");
  let child: Child | undefined;
  try {
    writeFileSync(join(dir, "htpasswd"), execFileSync("htpasswd", ["-Bbn", user, password], { encoding: "utf8" }));
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    writeFileSync(
      join(dir, "config.yml"),
      [
        "version: 0.1",
        "log: {level: warn}",
        `storage: {filesystem: {rootdirectory: ${dir}/data}, delete: {enabled: true}}`,
        `http: {addr: "${host}", secret: berth-test-upload-secret}`,
        `auth: {htpasswd: {realm: berth-test, path: ${dir}/htpasswd}}`,
        "",
      ].join("\n"),
    );
    child = startChild("docker-registry", ["serve", join(dir, "config.yml")]);
    await waitForChallenge(host, child);
    const running = child;
    return {
      host,
      output: () => running.output(),
      async stop() {
        await running.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await child?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error instanceof TestRegistryError ? error : new TestRegistryError(String((error as Error).message ?? error), { cause: error });
  }
}

/** Ready once /v2/ answers 401 with a Basic challenge: auth is on. */
async function waitForChallenge(host: string, child: Child): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new TestRegistryError(`docker-registry exited with code ${child.process.exitCode}: ${child.output()}`);
    try {
      const answer = await fetch(`http://${host}/v2/`);
      if (answer.status === 401 && /Basic/i.test(answer.headers.get("www-authenticate") ?? "")) return;
      last = new Error(`GET /v2/ answered ${answer.status}; expected 401 with a Basic challenge`);
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new TestRegistryError(`no answer on ${host} in time: ${child.output()}`, { cause: last });
}
