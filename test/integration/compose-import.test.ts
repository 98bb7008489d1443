import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestRuntime, eventually, projectContainers, removeProject, uniqueProject } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { demuxLogs } from "../../src/docker/driver.ts";
import { freePort, startChild } from "../support/processes.ts";

/**
 * Three compose projects written as such stacks are published, run by the
 * real docker-compose and by Berth from `berth import compose`, compared by
 * `docker inspect`. Nothing can be pulled here: the published image names
 * are the local test image tagged so, and commands stand in for the servers.
 */
const rt = createTestRuntime(inject("dockerHost"));
const run = promisify(execFile);
const berth = cliRunner({ DOCKER_HOST: rt.dockerHost });
const work = mkdtempSync(join(tmpdir(), "berth-compose-"));
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

const PUBLISHED = ["postgres:16-alpine", "redis:7-alpine", "shop/web:1.4", "shop/api:2", "shop/worker:1"];

async function tagPublishedNames(docker: Docker) {
  for (const ref of PUBLISHED) {
    const [repo, tag] = ref.split(":");
    await docker.getImage("berth-test/busybox:1").tag({ repo: repo!, tag: tag! });
  }
}

interface Stack {
  files: Record<string, string>;
  composeFiles: string[];
  profiles?: string[];
}

/** Writes a stack into its own directory (its name is compose's project name) and runs it with docker-compose. */
async function composeUp(stack: Stack): Promise<{ dir: string; name: string }> {
  const name = uniqueProject("cmp");
  const dir = join(work, name);
  for (const [path, text] of Object.entries(stack.files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const args = [...stack.composeFiles.flatMap((f) => ["-f", f]), ...(stack.profiles ?? []).flatMap((p) => ["--profile", p])];
  const compose = (...more: string[]) => run("docker-compose", [...args, ...more], { cwd: dir, env: { ...process.env, DOCKER_HOST: rt.dockerHost }, maxBuffer: 16 * 1024 * 1024 });
  cleanups.push(() => compose("down", "-v", "-t", "0"));
  await compose("up", "-d", "--build");
  return { dir, name };
}

/** The parts of a container the acceptance compares, in a form both tools' equivalent settings share. */
async function comparable(docker: Docker, id: string) {
  const c = await docker.getContainer(id).inspect();
  const image = await docker.getImage(c.Image).inspect();
  const check = c.Config.Healthcheck;
  // Docker runs CMD-SHELL x as /bin/sh -c x; Berth writes the same as CMD sh -c x. Unset timings are Docker's defaults.
  const test = check?.Test?.[0] === "CMD-SHELL" ? ["CMD", "sh", "-c", check.Test.slice(1).join(" ")] : check?.Test;
  const second = 1_000_000_000;
  return {
    layers: image.RootFS.Layers,
    cmd: c.Config.Cmd,
    entrypoint: c.Config.Entrypoint ?? null,
    env: [...(c.Config.Env ?? [])].sort(),
    mounts: c.Mounts.map((m) => ({ type: m.Type, source: m.Type === "volume" ? m.Name : m.Source, destination: m.Destination, rw: m.RW })).sort((a, b) => a.destination.localeCompare(b.destination)),
    ports: Object.fromEntries(Object.entries(c.HostConfig.PortBindings ?? {}).map(([port, bindings]) => [port, (bindings as { HostIp: string; HostPort: string }[]).map((b) => `${b.HostIp || "0.0.0.0"}:${b.HostPort}`)])),
    health: check && test ? { test, interval: check.Interval || 30 * second, timeout: check.Timeout || 30 * second, retries: check.Retries || 3, startPeriod: check.StartPeriod || 0 } : null,
  };
}

/** Runs a stack with docker-compose, takes it down (its volumes stay), imports it and applies it with Berth, and compares. */
async function compareStack(stack: Stack) {
  const { dir, name } = await composeUp(stack);
  const composed = await rt.docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${name}`] } });
  const byService = new Map<string, Awaited<ReturnType<typeof comparable>>>();
  for (const c of composed) byService.set(c.Labels["com.docker.compose.service"]!, await comparable(rt.docker, c.Id));
  await run("docker-compose", [...stack.composeFiles.flatMap((f) => ["-f", f]), "down", "-t", "0"], { cwd: dir, env: { ...process.env, DOCKER_HOST: rt.dockerHost } });

  const project = uniqueProject("imp");
  cleanups.push(() => removeProject(rt.docker, project));
  const out = join(dir, "berth");
  const imported = await berth("import", "compose", ...stack.composeFiles.map((f) => join(dir, f)), "-o", out, "--project", project, "--env", "prod", ...(stack.profiles ?? []).flatMap((p) => ["--profile", p]));
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
  const validated = await berth("validate", out);
  expect(validated.stdout).toContain("valid");
  expect(validated.code).toBe(0);
  const applied = await berth("apply", out, "--wait", "--timeout", "90s", "--db", `file:${join(dir, "berth.db")}`, "--allow-host-path", dir);
  expect(applied.code, applied.out).toBe(0);

  const mine = (await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.replica"] === "0");
  const berthByService = new Map<string, Awaited<ReturnType<typeof comparable>>>();
  for (const c of mine) berthByService.set(c.Labels["dev.berth.service"]!, await comparable(rt.docker, c.Id));
  expect([...berthByService.keys()].sort()).toEqual([...byService.keys()].map((s) => s.replaceAll("_", "-")).sort());
  for (const [service, composeView] of byService) expect({ service, ...berthByService.get(service.replaceAll("_", "-")) }).toEqual({ service, ...composeView });
  return { dir, name, project, imported };
}

/** A database service as compose runs it, counting its starts in its volume; `delay` seconds before it is healthy. */
const dbWithBoots = (delay: number) => `  db:
    image: postgres:16-alpine
    command: ["sh", "-c", "${delay ? `sleep ${delay}; ` : ""}echo boot >> /var/lib/postgresql/data/boots; exec httpd -f -p 5432 -h /www"]
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD-SHELL", "test -f /var/lib/postgresql/data/boots"]
      interval: 1s
`;

const busyboxServe = (port: number) => `["sh", "-c", "exec httpd -f -p ${port} -h /www"]`;

describe("berth import compose", () => {
  beforeAll(() => tagPublishedNames(rt.docker));
  it("a web app with Postgres and Redis: same image, command, env, mounts, ports and health checks as docker-compose, on compose's own volumes", async () => {
    const port = await freePort();
    const { dir, name, project, imported } = await compareStack({
      composeFiles: ["docker-compose.yml"],
      files: {
        ".env": `POSTGRES_PASSWORD=change-me-in-production\nWEB_PORT=${port}\n`,
        "docker-compose.yml": `services:
  web:
    image: shop/web:1.4
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    environment:
      DATABASE_URL: postgres://shop:\${POSTGRES_PASSWORD}@db:5432/shop
      REDIS_URL: redis://redis:6379/0
      NODE_ENV: production
    ports:
      - "127.0.0.1:\${WEB_PORT}:8080"
    depends_on:
      - db
      - redis
    restart: unless-stopped
  db:
    image: postgres:16-alpine
    command: ["sh", "-c", "echo boot >> /var/lib/postgresql/data/boots; exec httpd -f -p 5432 -h /www"]
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD}
      POSTGRES_DB: shop
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD-SHELL", "test -f /var/lib/postgresql/data/boots"]
      interval: 2s
      timeout: 2s
      retries: 5
    restart: unless-stopped
  redis:
    image: redis:7-alpine
    command: ${busyboxServe(6379)}
    volumes:
      - redisdata:/data
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:6379/"]
    restart: unless-stopped
volumes:
  pgdata:
  redisdata:
`,
      },
    });
    expect(imported.stdout).toContain("wrote 6 manifests");
    // The secret from .env stayed in .env: the manifest names it, never its value.
    const db = await run("cat", [join(dir, "berth/services/db.yaml")]);
    expect(db.stdout).toContain("envFile: ../.env");
    expect(db.stdout).not.toContain("change-me-in-production");
    // Compose's volume, used in place: the row compose's container wrote is there, and Berth's start added one.
    const [berthDb] = (await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "db");
    expect(berthDb!.Mounts.find((m) => m.Destination === "/var/lib/postgresql/data")?.Name).toBe(`${name}_pgdata`);
    const exec = await rt.docker.getContainer(berthDb!.Id).exec({ Cmd: ["cat", "/var/lib/postgresql/data/boots"], AttachStdout: true });
    const stream = await exec.start({});
    const text = await new Promise<string>((resolve) => {
      let all = "";
      stream.on("data", (d: Buffer) => (all += d.toString("latin1")));
      stream.on("end", () => resolve(all));
    });
    expect(text.match(/boot/g)).toHaveLength(2);
  }, 240_000);

  it("a stack with a build context, an override file, env_file, YAML anchors and profiles", async () => {
    const port = await freePort();
    const { dir, imported } = await compareStack({
      composeFiles: ["docker-compose.yml", "docker-compose.override.yml"],
      profiles: ["jobs"],
      files: {
        "web/Dockerfile": "FROM berth-test/busybox:1\nARG PAGE=default\nRUN echo \"$PAGE\" > /www/index.html\n",
        "web.env": "SESSION_SECRET=not-for-logs-123\nFEATURE_FLAGS=checkout,search\n",
        "docker-compose.yml": `x-defaults: &defaults
  restart: unless-stopped
  labels:
    com.example.team: storefront
services:
  web:
    <<: *defaults
    build:
      context: ./web
      args:
        PAGE: storefront
    env_file: web.env
    command: httpd -f -p 8080 -h /www
    ports:
      - "127.0.0.1:${port}:8080"
    healthcheck:
      test: wget -q -O /dev/null http://127.0.0.1:8080/
      interval: 2s
  worker:
    <<: *defaults
    image: shop/worker:1
    command: ["sh", "-c", "while true; do sleep 1; done"]
    profiles: [jobs]
    environment:
      - QUEUE=default
  adminer:
    image: adminer:4
    profiles: [debug]
    ports:
      - "8082:8080"
`,
        "docker-compose.override.yml": `services:
  web:
    environment:
      LOG_LEVEL: debug
`,
      },
    });
    expect(imported.stdout).toMatch(/adminer\s+profiles\s+in profile\(s\) debug/);
    const web = await run("cat", [join(dir, "berth/services/web.yaml")]);
    expect(web.stdout).toContain("envFile: ../web.env");
    expect(web.stdout).not.toContain("not-for-logs-123");
  }, 240_000);

  it("healthcheck-gated depends_on (healthy, completed) and file secrets", async () => {
    const { dir } = await compareStack({
      composeFiles: ["docker-compose.yml"],
      files: {
        "secrets/api_key.txt": "k-0123456789\n",
        "docker-compose.yml": `services:
  migrate:
    image: shop/api:2
    command: ["sh", "-c", "echo migrated > /state/migrated"]
    volumes:
      - state:/state
    restart: "no"
  api:
    image: shop/api:2
    command: ["sh", "-c", "test -f /state/migrated && test -f /run/secrets/api_key && exec httpd -f -p 8080 -h /www"]
    volumes:
      - state:/state:ro
    depends_on:
      migrate:
        condition: service_completed_successfully
      cache:
        condition: service_healthy
    secrets:
      - api_key
    environment:
      API_KEY_FILE: /run/secrets/api_key
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 2s
      start_period: 5s
    stop_grace_period: 5s
    restart: on-failure
  cache:
    image: redis:7-alpine
    command: ${busyboxServe(6379)}
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:6379/ || exit 1"]
      interval: 2s
secrets:
  api_key:
    file: ./secrets/api_key.txt
volumes:
  state:
`,
      },
    });
    const api = await run("cat", [join(dir, "berth/services/api.yaml")]);
    expect(api.stdout).toContain("condition: Completed");
    expect(api.stdout).toContain("target: /run/secrets/api_key");
  }, 240_000);

  it("adopts a running compose project: its rows stay in its volume, no compose container or network remains, and plan has nothing to do", async () => {
    const port = await freePort();
    const { dir, name } = await composeUp({
      composeFiles: ["docker-compose.yml"],
      files: {
        "docker-compose.yml": `services:
${dbWithBoots(0)}  web:
    image: shop/web:1.4
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports:
      - "127.0.0.1:${port}:8080"
    depends_on:
      db:
        condition: service_healthy
volumes:
  pgdata:
`,
      },
    });
    const composed = () => rt.docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${name}`] } });
    const [composeDb] = (await composed()).filter((c) => c.Labels["com.docker.compose.service"] === "db");
    // Rows written while compose runs the stack.
    await execIn(composeDb!.Id, ["sh", "-c", "echo row-1 >> /var/lib/postgresql/data/rows; echo row-2 >> /var/lib/postgresql/data/rows"]);

    const project = uniqueProject("adp");
    cleanups.push(() => removeProject(rt.docker, project));
    const out = join(dir, "berth");
    expect((await berth("import", "compose", join(dir, "docker-compose.yml"), "-o", out, "--project", project)).code).toBe(0);
    // The manifests as a hand-written set would be, without adopt: the flag asks for the takeover instead.
    const envFile = join(out, "production.yaml");
    writeFileSync(envFile, readFileSync(envFile, "utf8").replace(/^  adopt: .*\n/m, ""));
    expect(readFileSync(envFile, "utf8")).not.toMatch(/^  adopt:/m);
    const applied = await berth("apply", out, "--wait", "--timeout", "90s", "--db", `file:${join(dir, "berth.db")}`, "--allow-host-path", dir, "--adopt-compose", name);
    expect(applied.code, applied.out).toBe(0);

    expect(await composed()).toEqual([]);
    expect(await rt.docker.listNetworks({ filters: { label: [`com.docker.compose.project=${name}`] } })).toEqual([]);
    const [db] = (await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "db");
    expect(db!.Mounts.find((m) => m.Destination === "/var/lib/postgresql/data")?.Name).toBe(`${name}_pgdata`);
    expect(await execIn(db!.Id, ["cat", "/var/lib/postgresql/data/rows"])).toBe("row-1\nrow-2\n");
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    const plan = await berth("plan", out, "--detailed-exitcode", "--db", `file:${join(dir, "berth.db")}`, "--allow-host-path", dir);
    expect(plan.stdout).toContain("No changes");
    expect(plan.code).toBe(0);
  }, 240_000);

  it("a daemon killed with -9 mid-adoption, started again, finishes it with no data lost", async () => {
    const { dir, name } = await composeUp({
      composeFiles: ["docker-compose.yml"],
      files: {
        // Slow to become healthy: the daemon is killed while compose's db is stopped and Berth's is not ready yet.
        "docker-compose.yml": `services:
${dbWithBoots(3)}volumes:
  pgdata:
`,
      },
    });
    const composed = () => rt.docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${name}`] } });
    await execIn((await composed())[0]!.Id, ["sh", "-c", "echo row-1 >> /var/lib/postgresql/data/rows"]);
    const project = uniqueProject("adk");
    cleanups.push(() => removeProject(rt.docker, project));
    const out = join(dir, "berth");
    expect((await berth("import", "compose", join(dir, "docker-compose.yml"), "-o", out, "--project", project)).code).toBe(0);
    const start = async () => {
      const child = startChild(process.execPath, ["bin/berth.js", "run", out, "--db", `file:${join(dir, "berth.db")}`, "--listen", `127.0.0.1:${await freePort()}`, "--allow-host-path", dir], { ...process.env, DOCKER_HOST: rt.dockerHost });
      cleanups.push(() => child.stop());
      return child;
    };

    const first = await start();
    await eventually(async () => ((await composed())[0]?.State === "exited" ? true : undefined), 60_000, "compose's db to step aside");
    first.process.kill("SIGKILL");
    await new Promise((resolve) => first.process.once("exit", resolve));

    const second = await start();
    await eventually(async () => ((await composed()).length === 0 ? true : undefined), 90_000, "the adoption to finish after the restart");
    const [db] = (await projectContainers(rt.docker, project)).filter((c) => c.Labels["dev.berth.service"] === "db" && c.State === "running");
    expect(await execIn(db!.Id, ["cat", "/var/lib/postgresql/data/rows"])).toBe("row-1\n");
    // The Environment looks every 2 s while compose's containers remain; then its networks go.
    await eventually(async () => ((await rt.docker.listNetworks({ filters: { label: [`com.docker.compose.project=${name}`] } })).length === 0 ? true : undefined), 10_000, "compose's network to go");
    await second.stop();
  }, 240_000);
});

/** Runs a command in a container and returns what it printed. */
async function execIn(id: string, cmd: string[]): Promise<string> {
  const exec = await rt.docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const out = await new Promise<string>((resolve) => {
    let all = Buffer.alloc(0);
    stream.on("data", (d: Buffer) => (all = Buffer.concat([all, d])));
    stream.on("end", () => resolve(demuxLogs(all)));
  });
  return out;
}
