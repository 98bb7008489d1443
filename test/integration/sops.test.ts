import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { controllers, targets } from "../../controllers/index.ts";
import { driverForTarget } from "../../src/docker/transport.ts";
import { startDaemon } from "../../src/engine/daemon.ts";
import { createLogger, Redactor } from "../../src/log/logger.ts";
import { Metrics } from "../../src/metrics/metrics.ts";
import { Recorder } from "../../src/record/recorder.ts";
import { AgeKeyring } from "../../src/secrets/age-keys.ts";
import { openStore } from "../../src/store/index.ts";
import { createTestRuntime, eventually, projectContainers, removeProject, uniqueProject } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { createManifestDir } from "../support/manifest-dir.ts";
import { writeProject } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const project = uniqueProject("sops");
const dir = createManifestDir();
const data = mkdtempSync(join(tmpdir(), "berth-sops-data-"));
const keys = mkdtempSync(join(tmpdir(), "berth-sops-keys-"));
/** No hex digit or vowel: no id, hash or word can contain 4 characters of it by chance. */
const secret = () => Array.from(randomBytes(16), (b) => "GHJKMNPQRSTVWXZghjkmnpqrstvwxz"[b % 30]).join("");
const pieces = (value: string) => Array.from({ length: value.length - 3 }, (_, i) => value.slice(i, i + 4));
const berth = cliRunner({ DOCKER_HOST: rt.dockerHost });

/** A fresh age identity from the real age-keygen; returns its file and recipient. */
function ageKeygen(name: string): { file: string; recipient: string } {
  const file = join(keys, name);
  execFileSync("age-keygen", ["-o", file], { stdio: "pipe" });
  return { file, recipient: /public key: (age1\w+)/.exec(readFileSync(file, "utf8"))![1]! };
}

/** Every file below `root`, as latin1 text (the store, its WAL, the manifests, the encrypted files). */
function filesBelow(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(root, { recursive: true }) as string[]) {
    const path = join(root, name);
    if (statSync(path).isFile()) out[path] = readFileSync(path).toString("latin1");
  }
  return out;
}

afterAll(async () => {
  await removeProject(rt.docker, project);
  dir.cleanup();
  rmSync(data, { recursive: true, force: true });
  rmSync(keys, { recursive: true, force: true });
});

describe("env files encrypted with SOPS", () => {
  it("deploy decrypted, roll on rotation, keep the running value on a wrong key, and never leak", async () => {
    const operator = ageKeygen("operator.txt");
    const keyFile = join(keys, "in-use.txt");
    writeFileSync(keyFile, readFileSync(operator.file));
    const [first, second] = [secret(), secret()];
    const encrypt = async (value: string) => {
      dir.write("secrets/db.env", `DB_PASSWORD=${value}\n`);
      const result = await berth("secrets", "encrypt", join(dir.dir, "secrets/db.env"), "--age", operator.recipient, "--in-place");
      expect(result.code, result.out).toBe(0);
      expect(readFileSync(join(dir.dir, "secrets/db.env"), "utf8")).toMatch(/^DB_PASSWORD=ENC\[AES256_GCM,/);
    };
    writeProject(dir, project, rt.dockerHost, { web: { envFiles: { DB_PASSWORD: "secrets/db.env" } } });
    await encrypt(first);

    const logs: string[] = [];
    const redactor = new Redactor();
    const log = createLogger({ level: "debug", write: (line) => logs.push(line), redactor });
    const store = await openStore(`file:${join(data, "berth.db")}`);
    const metrics = new Metrics({ processMetrics: false });
    const env = { DOCKER_HOST: rt.dockerHost };
    const daemon = await startDaemon({
      dir: dir.dir, log, redactor, store, metrics, controllers, targets, daemonEnv: env,
      connect: (t) => driverForTarget(t, { env }),
      observer: new Recorder({ store, metrics, redactor, log }),
      ageKeys: new AgeKeyring({ file: keyFile, origin: "--age-key-file" }),
      resyncMs: 1_000,
      rolloutPollMs: 200,
    });
    const web = async () => {
      const [container] = (await projectContainers(rt.docker, project)).filter((c) => c.State === "running");
      if (!container) return undefined;
      return { id: container.Id, env: (await rt.docker.getContainer(container.Id).inspect()).Config.Env };
    };
    try {
      const deployed = await eventually(async () => ((await web())?.env.includes(`DB_PASSWORD=${first}`) ? web() : undefined), 45_000, "the first secret in the container");

      // Rotation: a new ciphertext with a new value rolls the Service.
      await encrypt(second);
      const rolled = await eventually(async () => ((await web())?.env.includes(`DB_PASSWORD=${second}`) ? web() : undefined), 45_000, "the rotated secret in the container");
      expect(rolled.id).not.toBe(deployed.id);

      // A wrong key: a located error, and the running container keeps its value.
      writeFileSync(keyFile, readFileSync(ageKeygen("stranger.txt").file));
      await encrypt(secret());
      const error = await eventually(async () => daemon.manager.status().find((s) => s.kind === "Service" && s.name === `${project}-dev/web`)?.error, 20_000, "the key error");
      expect(error).toContain(`${join(dir.dir, "svc-web.yaml")}:1:1`);
      expect(error).toContain(join(dir.dir, "secrets/db.env"));
      expect(error).toContain(`expected an age identity for recipient ${operator.recipient} in --age-key-file ${keyFile}`);
      // Two more resyncs: nothing replaces or changes the running container.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(await web()).toEqual(rolled);

      const sinks: Record<string, string> = {
        logs: logs.join("\n"),
        metrics: await metrics.registry.metrics(),
        status: JSON.stringify(daemon.manager.status()),
        events: JSON.stringify(await store.events.list({ limit: 500 })),
        ...filesBelow(dir.dir),
        ...filesBelow(data),
      };
      expect(Object.keys(sinks).some((k) => k.endsWith("berth.db-wal") || k.endsWith("berth.db"))).toBe(true);
      for (const [sink, text] of Object.entries(sinks)) {
        for (const value of [first, second]) {
          expect(text.includes(value), `${sink} contains a secret`).toBe(false);
          // Base64 ciphertext could hold 4 of the secret's characters by chance; every other sink is checked piece by piece.
          if (sink.includes("/secrets/")) continue;
          for (const piece of pieces(value)) expect(text.includes(piece), `${sink} contains ${piece}, 4 characters of a secret`).toBe(false);
        }
      }
    } finally {
      await daemon.stop();
      store.close();
    }
  }, 150_000);
});
