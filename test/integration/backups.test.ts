import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { createTestRuntime, eventually, projectContainers, removeProject, uniqueProject } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { createManifestDir } from "../support/manifest-dir.ts";
import { freePort, startChild } from "../support/processes.ts";
import { startTestSshd } from "../support/sshd.ts";
import { writeProject, writeService, type TestService } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const berth = cliRunner({ DOCKER_HOST: rt.dockerHost });
const projects: string[] = [];
const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const p of projects) {
    await removeProject(rt.docker, p);
    for (const v of (await rt.docker.listVolumes()).Volumes ?? []) if (v.Name.startsWith(`${p}-`)) await rt.docker.getVolume(v.Name).remove().catch(() => {});
  }
  for (const c of cleanups) c();
});

function workspace() {
  const project = uniqueProject("bak");
  projects.push(project);
  const dir = createManifestDir();
  const tmp = mkdtempSync(join(tmpdir(), "berth-backups-"));
  cleanups.push(() => dir.cleanup(), () => rmSync(tmp, { recursive: true, force: true }));
  return { project, dir, tmp, db: `file:${join(tmp, "berth.db")}`, env: `${project}-dev` };
}

/** A service keeping its rows in the named volume `data`, backed up as `backup` (flow YAML) says. */
const keeper = (backup: string): TestService => ({ volumes: `[{type: volume, source: data, target: /data, backup: ${backup}}]` });

/** The files under a directory of a named volume, read through a throwaway container. */
async function filesInVolume(volume: string): Promise<string[]> {
  const container = await rt.docker.createContainer({ Image: "berth-test/busybox:1", Cmd: ["find", "/v", "-type", "f"], HostConfig: { Mounts: [{ Type: "volume", Source: volume, Target: "/v", ReadOnly: true }] } });
  try {
    await container.start();
    await container.wait();
    const logs = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
    return logs.split("\n").map((l) => l.replace(/^[\s\S]*?\/v\//, "")).filter((l) => l.length > 0).sort();
  } finally {
    await container.remove({ force: true });
  }
}

describe("volume backups", () => {
  it("keep exactly `retain` archives on a schedule of seconds, show in metrics and berth backups, and restore data deleted after the backup while the daemon holds the service", async () => {
    const { project, dir, db, env } = workspace();
    writeProject(dir, project, rt.dockerHost, { db: keeper('{schedule: "*/2 * * * * *", retain: {count: 3}}') });
    const applied = await berth("apply", dir.dir, "--wait", "--db", db);
    expect(applied.code, applied.out).toBe(0);
    const exec = (...cmd: string[]) => berth("exec", "Service/db", "--env", env, "--dir", dir.dir, "--", ...cmd);
    expect((await exec("sh", "-c", "echo row-1 > /data/rows && mkdir -p /data/nested && echo deep > /data/nested/file")).code).toBe(0);

    const port = await freePort();
    const daemon = startChild(process.execPath, ["bin/berth.js", "run", dir.dir, "--db", db, "--listen", `127.0.0.1:${port}`], { ...process.env, DOCKER_HOST: rt.dockerHost });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      const exited = new Promise((resolve) => daemon.process.once("exit", resolve));
      daemon.process.kill("SIGTERM");
      await exited;
    };
    cleanups.push(() => void stop());
    const store = await openStore(db);
    try {
      const key = `Service/${env}/db`;
      await eventually(async () => ((await store.backups.list({ service: key, status: "succeeded" })).length + (await store.backups.list({ service: key, status: "pruned" })).length >= 5 ? true : undefined), 60_000, "five scheduled backups");

      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const ours = (line: string) => [`project="${project}"`, `environment="${env}"`, 'service="db"', 'volume="data"'].every((l) => line.includes(l));
      const sample = (name: string, extra = "") => metrics.split("\n").find((l) => l.startsWith(`${name}{`) && ours(l) && l.includes(extra));
      const value = (name: string) => Number(sample(name)?.split(" ").pop());
      expect(value("berth_backup_schedule_interval_seconds")).toBe(2);
      expect(Date.now() / 1000 - value("berth_backup_last_success_timestamp_seconds")).toBeLessThan(30);
      expect(value("berth_backup_size_bytes")).toBeGreaterThan(0);
      expect(value("berth_backup_duration_seconds")).toBeGreaterThan(0);
      expect(Number(sample("berth_backups_total", 'result="succeeded"')?.split(" ").pop())).toBeGreaterThan(0);

      // A daily schedule from now on (the daemon follows the edit), so that what is kept stays put while it is checked.
      writeService(dir, project, "db", keeper('{schedule: "@daily", retain: {count: 3}}'));
      await eventually(async () => (Number((await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).split("\n").find((l) => l.startsWith("berth_backup_schedule_interval_seconds{") && ours(l))?.split(" ").pop()) === 86_400 ? true : undefined), 30_000, "the daily schedule in force");
      await eventually(async () => ((await store.backups.running(key)) ? undefined : true), 30_000, "the last scheduled backup to end");

      // Restore the newest archive into the volume after the data changed, with the daemon running: it holds the service meanwhile.
      const [newest] = await store.backups.list({ service: key, status: "succeeded", limit: 1 });
      expect((await exec("sh", "-c", "rm -r /data/rows /data/nested && echo written-later > /data/stray")).code).toBe(0);
      const unasked = await berth("restore", "Service/db", "--env", env, "--dir", dir.dir, "--db", db, "--from", String(newest!.id));
      expect(unasked.code).toBe(1);
      expect(unasked.stderr).toContain("expected --yes");
      expect((await exec("cat", "/data/stray")).stdout).toBe("written-later\n");
      const before = await projectContainers(rt.docker, project);
      const restoreStarted = Date.now();
      const restored = await berth("restore", "Service/db", "--env", env, "--dir", dir.dir, "--db", db, "--from", String(newest!.id), "--yes");
      expect(restored.code, restored.out).toBe(0);
      expect(restored.stdout).toContain(`restored backup ${newest!.id}`);
      expect((await exec("cat", "/data/rows", "/data/nested/file")).stdout).toBe("row-1\ndeep\n");
      expect((await exec("ls", "-a", "/data")).stdout.split("\n").filter(Boolean).sort()).toEqual([".", "..", "nested", "rows"]);
      // The same container was stopped and started again; the daemon started nothing of its own meanwhile.
      const after = await projectContainers(rt.docker, project);
      expect(after.map((c) => c.Id)).toEqual(before.map((c) => c.Id));
      expect(after.every((c) => c.State === "running")).toBe(true);

      await stop();
      // Its containers were started by the restore alone (the daemon's audit rows are all written once it stopped).
      const ids = new Set(before.map((c) => c.Id));
      const starts = (await store.audit.list({ limit: 5_000 })).filter((a) => a.operation === "container.start" && a.time >= restoreStarted && ids.has(a.object ?? ""));
      expect(starts.length).toBe(before.length);
      expect(starts.filter((a) => !a.reason?.startsWith("restore of backup"))).toEqual([]);
      // Exactly `retain` archives stay, and they are the ones recorded as kept; each with a checksum file that matches.
      const kept = await store.backups.list({ service: key, status: "succeeded" });
      expect(kept).toHaveLength(3);
      const files = await filesInVolume(`${project}-${env}-backups`);
      expect(files).toEqual(kept.flatMap((r) => [r.file, `${r.file}.sha256`]).sort());
      expect((await store.backups.list({ service: key, status: "pruned" })).length).toBeGreaterThanOrEqual(2);
      const listed = await berth("backups", "Service/db", "--env", env, "--db", db);
      expect(listed.code, listed.out).toBe(0);
      expect(listed.stdout).toMatch(new RegExp(`^${newest!.id}\\s+${env}/db\\s+data\\s+succeeded\\s+schedule\\s`, "m"));
      expect(listed.stdout).toMatch(/\spruned\s+schedule\s/);
    } finally {
      await stop();
      store.close();
    }
  }, 180_000);

  it("a failing preHook fails visibly and keeps the earlier archives; archives in a host directory carry a checksum that matches", async () => {
    const { project, dir, tmp, db, env } = workspace();
    const archives = join(tmp, "archives");
    writeProject(dir, project, rt.dockerHost, { db: keeper(`{schedule: "@daily", retain: {count: 1}, destination: {path: ${archives}}, preHook: [sh, -c, "test -f /data/ready && echo dumped > /data/dump"], postHook: [rm, -f, /data/dump]}`) });
    expect((await berth("apply", dir.dir, "--wait", "--db", db)).code).toBe(0);
    const exec = (...cmd: string[]) => berth("exec", "Service/db", "--env", env, "--dir", dir.dir, "--", ...cmd);
    await exec("sh", "-c", "echo row-1 > /data/rows && touch /data/ready");

    const first = await berth("backup", "now", "Service/db", "--env", env, "--dir", dir.dir, "--db", db);
    expect(first.code, first.out).toBe(0);
    const store = await openStore(db);
    try {
      const [made] = await store.backups.list({ service: `Service/${env}/db` });
      expect(made).toMatchObject({ status: "succeeded", trigger: "manual", destination: `path:${archives}` });
      const archive = join(archives, made!.file);
      const bytes = readFileSync(archive);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(made!.sha256);
      expect(bytes.length).toBe(made!.sizeBytes);
      expect(readFileSync(`${archive}.sha256`, "utf8")).toBe(`${made!.sha256}  ${made!.file.split("/").pop()}\n`);
      // The preHook's dump went into the archive; the postHook removed it from the volume afterwards.
      expect((await exec("ls", "/data")).stdout.split("\n").filter(Boolean).sort()).toEqual(["ready", "rows"]);

      await exec("rm", "/data/ready");
      const failed = await berth("backup", "now", "Service/db", "--env", env, "--dir", dir.dir, "--db", db);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/backup \d+: backup of volume data failed: preHook \["sh","-c","test -f \/data\/ready && echo dumped > \/data\/dump"\] exited with code 1/);
      const [row] = await store.backups.list({ service: `Service/${env}/db` });
      expect(row).toMatchObject({ status: "failed", sizeBytes: null });
      // retain count 1 would have let the first go: a failure deletes nothing.
      expect(existsSync(archive)).toBe(true);
      expect((await store.backups.get(made!.id))?.status).toBe("succeeded");
      expect(readdirSync(dirname(archive)).filter((f) => f.endsWith(".tar.gz"))).toHaveLength(1);
      const events = await berth("events", "--db", db);
      expect(events.stdout).toMatch(/Warning\s+BackupFailed\s+Service\/.*preHook/);

      // A second success makes retention drop the first.
      await exec("touch", "/data/ready");
      expect((await berth("backup", "now", "Service/db", "--env", env, "--dir", dir.dir, "--db", db)).code).toBe(0);
      expect(existsSync(archive)).toBe(false);
      expect((await store.backups.get(made!.id))?.status).toBe("pruned");
      const pruned = await berth("restore", "Service/db", "--env", env, "--dir", dir.dir, "--db", db, "--from", String(made!.id), "--yes");
      expect(pruned.code).toBe(1);
      expect(pruned.stderr).toContain(`backup ${made!.id} is pruned`);
    } finally {
      store.close();
    }
  }, 120_000);

  it("backs up and restores over an SSH target", async () => {
    const { project, dir, db, env } = workspace();
    const sshd = await startTestSshd();
    try {
      writeProject(dir, project, rt.dockerHost, { db: keeper('{schedule: "@daily", retain: {count: 2}}') }, { ssh: { port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, hostKey: sshd.hostKeyLine } });
      expect((await berth("apply", dir.dir, "--wait", "--db", db)).code).toBe(0);
      const exec = (...cmd: string[]) => berth("exec", "Service/db", "--env", env, "--dir", dir.dir, "--", ...cmd);
      await exec("sh", "-c", "echo over-ssh > /data/rows");
      const made = await berth("backup", "now", `Service/${env}/db`, "--dir", dir.dir, "--db", db);
      expect(made.code, made.out).toBe(0);
      const id = /^backup (\d+):/.exec(made.stdout)![1]!;
      await exec("sh", "-c", "echo lost > /data/rows");
      const restored = await berth("restore", `Service/${env}/db`, "--dir", dir.dir, "--db", db, "--from", id, "--yes");
      expect(restored.code, restored.out).toBe(0);
      expect((await exec("cat", "/data/rows")).stdout).toBe("over-ssh\n");
    } finally {
      await sshd.stop();
    }
  }, 120_000);
});
