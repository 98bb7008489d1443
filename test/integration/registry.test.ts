import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestRuntime, eventually, projectContainers, removeProject, uniqueProject } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { createManifestDir } from "../support/manifest-dir.ts";
import { writeProject } from "../support/project.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startServedDaemon } from "../support/served-daemon.ts";
import { DockerDriver } from "../../src/docker/driver.ts";
import { LABEL, ownerFilter } from "../../src/docker/labels.ts";
import { openStore } from "../../src/store/index.ts";
import { imageRunBy } from "../../controllers/service/records.ts";

const rt = createTestRuntime(inject("dockerHost"));
const project = uniqueProject("reg");
const dir = createManifestDir();
const USER = "berth-ci";
/** A password no log line, id or hash could contain by chance, even 4 characters of it: no hex digit, no vowel. */
const PASSWORD = Array.from(randomBytes(20), (b) => "GHJKMNPQRSTVWXZghjkmnpqrstvwxz"[b % 30]).join("");
const pieces = Array.from({ length: PASSWORD.length - 3 }, (_, i) => PASSWORD.slice(i, i + 4));
/** The daemon user's Docker config: empty, so only the manifest can hold credentials (and the host's own ~/.docker is not read). */
const dockerConfig = mkdtempSync("/tmp/berth-docker-config-");
const env = { DOCKER_HOST: rt.dockerHost, DOCKER_CONFIG: dockerConfig, HOME: dockerConfig };
const berth = cliRunner(env);
const db = `file:${dir.dir}/state/berth.db`;
const service = `Service/${project}-dev/web`;
/** Every sink's text, checked for the password at the end. */
const sinks: Record<string, string> = {};

let registry: TestRegistry;
let image: string;
let pushedDigest: string;
let secondDigest: string;

function followed(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    rt.docker.modem.followProgress(stream, (error: unknown, output: { error?: string }[]) => {
      const failed = output?.find((o) => o.error);
      if (error || failed) reject(error ?? new Error(failed!.error));
      else resolve();
    });
  });
}

beforeAll(async () => {
  registry = await startRegistry(USER, PASSWORD);
  const repo = `${registry.host}/berth-test/busybox`;
  image = `${repo}:${project}`;
  await rt.docker.getImage(inject("testImage")).tag({ repo, tag: project });
  await followed((await rt.docker.getImage(image).push({ authconfig: { username: USER, password: PASSWORD, serveraddress: registry.host } })) as unknown as Readable);
  pushedDigest = (await rt.docker.getImage(image).inspect()).RepoDigests.find((d) => d.startsWith(`${repo}@sha256:`))!;
  expect(pushedDigest).toMatch(/@sha256:[0-9a-f]{64}$/);
  // Only the registry has it now: a Service that runs it must pull it, with credentials.
  await rt.docker.getImage(image).remove();
  writeProject(dir, project, rt.dockerHost, { web: { image } });
  dir.write("svc-web.yaml", readFileSync(join(dir.dir, "svc-web.yaml"), "utf8").replace("imagePullPolicy: Never", "imagePullPolicy: IfNotPresent"));
}, 120_000);

afterAll(async () => {
  await removeProject(rt.docker, project);
  for (const ref of [image, `${image}-b`, `berth-test-local/${project}:built`]) await rt.docker.getImage(ref).remove().catch(() => {});
  await registry?.stop();
  dir.cleanup();
  rmSync(dockerConfig, { recursive: true, force: true });
});

describe("private registries", () => {
  it("without credentials: the pull is refused, apply --wait ends at once naming image, registry and what to add", async () => {
    // The wait is far longer than the test may take: only a terminal failure ends it in time.
    const apply = await berth("apply", dir.dir, "--wait", "--timeout", "10m", "--db", db, "--log-level", "debug");
    sinks.applyWithout = apply.out;
    expect(apply.code, apply.out).toBe(1);
    expect(apply.out).toContain(`image ${image}: registry ${registry.host} refused the pull without credentials`);
    expect(apply.out).toContain(`expected registries: [{server: ${registry.host}, username: …, passwordFrom: {envFile: …, key: …}}] on DeploymentTarget/${project}-engine, or docker login ${registry.host} as the daemon's user (${dockerConfig}/config.json)`);
    expect(await projectContainers(rt.docker, project)).toEqual([]);
    // The engine asked the registry and says what it answered.
    expect(apply.out).toContain(`Head \"http://${registry.host}/v2/berth-test/busybox/manifests/${project}\": no basic auth credentials`);

    const status = JSON.parse((await berth("status", "-o", "json", "--db", db)).stdout) as { items: { kind: string; name: string; phase: string; conditions: { type: string; status: string; reason: string; message: string }[] }[] };
    const row = status.items.find((r) => `${r.kind}/${r.name}` === service)!;
    expect(row.phase).toBe("Failed");
    expect(row.conditions.find((c) => c.type === "Ready")).toMatchObject({ status: "False", reason: "ImagePullUnauthorized" });
    const events = JSON.parse((await berth("events", "--db", db, "--limit", "500", "-o", "json")).stdout) as { items: { reason: string; count: number; involvedName: string }[] };
    const refused = events.items.filter((e) => e.reason === "ImagePullUnauthorized");
    expect(refused.map((e) => [e.involvedName, e.count])).toEqual([[`${project}-dev/web`, 1]]);
  }, 120_000);

  it("a running daemon recovers when registries are added to the target; the digest is recorded; the password shows nowhere", async () => {
    const served = await startServedDaemon({ dir: dir.dir, db, env, debounceMs: 100 });
    const { daemon, store, log, logs, get } = served;
    try {
      const web = () => daemon.manager.status().find((s) => `${s.kind}/${s.name}` === service);
      await eventually(async () => (web()?.terminal && web()?.message.includes("refused the pull without credentials") ? true : undefined), 30_000, "the refused pull");

      dir.write("secrets/registry.env", `REGISTRY_PASSWORD=${PASSWORD}\n`);
      const base = readFileSync(join(dir.dir, "base.yaml"), "utf8");
      dir.write("base.yaml", base.replace("  type: local\n", `  type: local\n  registries:\n    - {server: ${registry.host}, username: ${USER}, passwordFrom: {envFile: secrets/registry.env, key: REGISTRY_PASSWORD}}\n`));
      await eventually(async () => (web()?.ready && web()?.phase === "Running" ? true : undefined), 60_000, `${service} running (last: ${JSON.stringify(web())})`);

      const [container] = await projectContainers(rt.docker, project);
      expect(container!.Image).toBe(image);
      expect(container!.State).toBe("running");
      const [row] = await store.deployments.list({ service });
      expect(row).toMatchObject({ status: "success", image, imageDigest: pushedDigest });
      // The password is registered with the redactor every sink passes through: text that quotes it is masked.
      log.warn("registry answer", { said: `denied for ${USER}:${PASSWORD}` });
      expect(logs.at(-1)).toContain(`denied for ${USER}:***`);
      sinks.metrics = await get("/metrics");
      sinks.resources = await get("/api/v1/resources");
      sinks.events = await get("/api/v1/events?limit=500");
    } finally {
      await served.close();
    }
    sinks.daemonLogs = logs.join("\n");

    const history = await berth("history", service, "--db", db, "-o", "json");
    const items = (JSON.parse(history.stdout) as { items: { imageDigest: string | null; status: string }[] }).items;
    expect(items[0]).toMatchObject({ status: "success", imageDigest: pushedDigest });
    const text = await berth("history", service, "--db", db);
    expect(text.stdout).toContain("DIGEST");
    expect(text.stdout).toContain(pushedDigest.slice(0, pushedDigest.indexOf("@sha256:") + 8 + 12));
    sinks.history = history.out + text.out;
    sinks.status = (await berth("status", "-o", "yaml", "--db", db)).out;
    sinks.plan = (await berth("plan", dir.dir)).out;
    sinks.store = readdirSync(join(dir.dir, "state")).map((f) => readFileSync(join(dir.dir, "state", f)).toString("latin1")).join("");

    expect(Object.keys(sinks).sort()).toEqual(["applyWithout", "daemonLogs", "events", "history", "metrics", "plan", "resources", "status", "store"]);
    for (const [sink, text] of Object.entries(sinks)) {
      for (const piece of pieces) expect(text.includes(piece), `${sink} contains ${piece}, 4 characters of the registry password`).toBe(false);
    }
  }, 150_000);

  it("the target's entry wins over the daemon user's config.json; without it, the config.json login pulls", async () => {
    // A new tag only the registry has, so the next revision must pull again.
    const second = `${image}-b`;
    await rt.docker.getImage(inject("testImage")).tag({ repo: image.slice(0, image.lastIndexOf(":")), tag: `${project}-b` });
    await followed((await rt.docker.getImage(second).push({ authconfig: { username: USER, password: PASSWORD, serveraddress: registry.host } })) as unknown as Readable);
    secondDigest = (await rt.docker.getImage(second).inspect()).RepoDigests.find((d) => d.startsWith(`${registry.host}/berth-test/busybox@sha256:`))!;
    await rt.docker.getImage(second).remove();
    dir.write("svc-web.yaml", readFileSync(join(dir.dir, "svc-web.yaml"), "utf8").replace(`image: ${image}\n`, `image: ${second}\n`));
    writeFileSync(join(dockerConfig, "config.json"), JSON.stringify({ auths: { [`http://${registry.host}`]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString("base64") } } }));
    dir.write("secrets/registry.env", "REGISTRY_PASSWORD=not-the-password\n");

    const refused = await berth("apply", dir.dir, "--wait", "--timeout", "10m", "--db", db);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain(`image ${second}: registry ${registry.host} refused the pull with the credentials of user ${USER} from DeploymentTarget/${project}-engine (`);

    const base = readFileSync(join(dir.dir, "base.yaml"), "utf8");
    dir.write("base.yaml", base.replace(/  registries:\n.*\n/, ""));
    const pulled = await berth("apply", dir.dir, "--wait", "--timeout", "2m", "--db", db);
    expect(pulled.code, pulled.out).toBe(0);
    const [container] = (await projectContainers(rt.docker, project)).filter((c) => c.State === "running");
    expect(container!.Image).toBe(second);
    for (const piece of pieces) expect((refused.out + pulled.out).includes(piece), `apply output contains ${piece}`).toBe(false);
    const rows = JSON.parse((await berth("history", service, "--db", db, "-o", "json")).stdout) as { items: { image: string; status: string; imageDigest: string | null; imageDigestKind: string | null }[] };
    expect(rows.items[0]).toMatchObject({ image: second, status: "success", imageDigest: secondDigest, imageDigestKind: "repo-digest" });
  }, 150_000);

  it("the digest is the one of the image the containers run, even after the tag moved; an image without one records its ID, shown as such", async () => {
    const second = `${image}-b`;
    const driver = new DockerDriver(`${project}-engine`, rt.docker);
    const store = await openStore(db);
    try {
      const [row] = await store.deployments.list({ service });
      expect(row).toMatchObject({ image: second, status: "success", imageDigest: secondDigest });
      // Another image is pushed under the same tag and is what the tag names here now; the running container keeps its own.
      const scratch = await rt.docker.createContainer({ Image: second, Cmd: ["true"], Labels: { "berth-test": project } });
      const moved = await scratch.commit({ repo: second.slice(0, second.lastIndexOf(":")), tag: `${project}-b`, changes: ["LABEL berth.test.moved=yes"] });
      await scratch.remove();
      await followed((await rt.docker.getImage(second).push({ authconfig: { username: USER, password: PASSWORD, serveraddress: registry.host } })) as unknown as Readable);
      const byTag = await driver.imageDigest(second);
      expect(byTag).toMatch(/@sha256:[0-9a-f]{64}$/);
      expect(byTag, "the tag now names another image").not.toBe(secondDigest);

      const running = imageRunBy(await driver.listContainers([...ownerFilter({ project }), `${LABEL.specHash}=${row!.revision}`]), row!.revision);
      expect(running).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(running).not.toBe(`sha256:${(moved as { Id: string }).Id.replace(/^sha256:/, "")}`);
      expect(await driver.imageDigest(second, running)).toBe(secondDigest);

      // Committed here, never pushed: no repo digest, so its ID is recorded, without a repository.
      const local = `berth-test-local/${project}:built`;
      await rt.docker.getImage(second).tag({ repo: `berth-test-local/${project}`, tag: "built" });
      const localId = (await rt.docker.getImage(local).inspect()).Id;
      expect(await driver.imageDigest(local, localId)).toBe(localId);

      const id = await store.deployments.start({ service, revision: "e".repeat(64), image: local, status: "in_progress" });
      await store.deployments.finish(id, { status: "failed", error: "recorded by the registry test", imageDigest: localId });
    } finally {
      store.close();
    }
    const json = JSON.parse((await berth("history", service, "--db", db, "-o", "json")).stdout) as { items: { image: string; imageDigest: string | null; imageDigestKind: string | null }[] };
    expect(json.items.find((r) => r.image === `berth-test-local/${project}:built`)).toMatchObject({ imageDigestKind: "image-id" });
    expect(json.items.find((r) => r.image === second)).toMatchObject({ imageDigest: secondDigest, imageDigestKind: "repo-digest" });
    const table = (await berth("history", service, "--db", db)).stdout;
    const localLine = table.split("\n").find((l) => l.includes(`berth-test-local/${project}:built`))!;
    expect(localLine).toMatch(/ image-id sha256:[0-9a-f]{12} /);
    const pulledLine = table.split("\n").find((l) => l.includes(` ${second} `))!;
    expect(pulledLine).toContain(secondDigest.slice(0, secondDigest.indexOf("@sha256:") + 8 + 12));
    expect(pulledLine).not.toContain("image-id");
  }, 150_000);
});
