import { afterAll, describe, expect, inject, it } from "vitest";
import { createTestRuntime, eventually, removeProject, uniqueProject } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { createManifestDir } from "../support/manifest-dir.ts";
import { startChild } from "../support/processes.ts";
import { startTestSshd } from "../support/sshd.ts";
import { writeProject } from "../support/project.ts";

const rt = createTestRuntime(inject("dockerHost"));
const berth = cliRunner({ DOCKER_HOST: rt.dockerHost });
const project = uniqueProject("log");
const dir = createManifestDir();
afterAll(async () => {
  await removeProject(rt.docker, project);
  dir.cleanup();
});

describe("berth logs and berth exec", () => {
  it("logs merges two replicas' output, prefixed by replica; -f follows both; exec runs a command in the chosen replica", async () => {
    // Each replica counts out loud with its own hostname (its container id), five lines a second.
    const talker = { replicas: 2, command: ["sh", "-c", 'i=0; while true; do echo "line $i from $(hostname)"; i=$((i+1)); sleep 0.2; done'] };
    writeProject(dir, project, rt.dockerHost, { talker });
    const env = `${project}-dev`;
    const applied = await berth("apply", dir.dir, "--wait", "--db", "file::memory:");
    expect(applied.code, applied.out).toBe(0);
    // Not a terminal: one progress line per change, on stderr, ending with the service running.
    expect(applied.stderr).toMatch(new RegExp(`^\\s+\\d+\\.\\ds Service/${env}/talker: Running: 2/2 running, 2 ready$`, "m"));
    const again = await berth("apply", dir.dir, "--wait", "--db", "file::memory:", "-o", "json");
    const events = again.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ ok: true });
    expect(events.some((e) => e.kind === "Service" && e.name === `${env}/talker` && e.phase === "Running")).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000));

    const past = await berth("logs", "Service/talker", "--env", env, "--dir", dir.dir, "--tail", "3");
    expect(past.code, past.stderr).toBe(0);
    const lines = past.stdout.trim().split("\n");
    expect(lines).toHaveLength(6);
    for (const slot of ["0", "1"]) expect(lines.filter((l) => l.startsWith(`talker-${slot} | line `))).toHaveLength(3);

    // -f: a separate process, as an operator runs it; both replicas keep coming until it is interrupted.
    const follow = startChild(process.execPath, ["bin/berth.js", "logs", `Service/${env}/talker`, "--dir", dir.dir, "-f", "--since", "1s", "--timestamps"], { ...process.env, DOCKER_HOST: rt.dockerHost });
    const counted = (slot: string) => follow.output().split("\n").filter((l) => l.startsWith(`talker-${slot} | `)).length;
    await eventually(async () => (counted("0") >= 10 && counted("1") >= 10 ? true : undefined), 20_000, "ten followed lines of each replica");
    const numbers = follow.output().split("\n").filter((l) => l.startsWith("talker-0 | ")).map((l) => Number(/line (\d+)/.exec(l)![1]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(follow.output()).toMatch(/^talker-1 \| \d{4}-\d\d-\d\dT[\d:.]+Z line \d+ from /m);
    const exited = new Promise<number | null>((resolve) => follow.process.once("exit", resolve));
    follow.process.kill("SIGINT");
    expect(await exited).toBe(0);

    const hostnames = await Promise.all(["0", "1"].map(async (replica) => (await berth("exec", "Service/talker", "--env", env, "--dir", dir.dir, "--replica", replica, "--", "hostname")).stdout.trim()));
    expect(hostnames[0]).not.toBe(hostnames[1]);
    for (const [slot, hostname] of hostnames.entries()) expect(lines.find((l) => l.startsWith(`talker-${slot} |`))).toContain(`from ${hostname}`);
    const failing = await berth("exec", "Service/talker", "--env", env, "--dir", dir.dir, "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3");
    expect(failing).toMatchObject({ code: 3, stdout: "to-stdout\n", stderr: "to-stderr\n" });
    const none = await berth("exec", "Service/talker", "--env", env, "--dir", dir.dir, "--replica", "5", "--", "true");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no running container in replica slot 5");

    // The same service through a DeploymentTarget reached over SSH: the same lines and the same exec.
    const sshd = await startTestSshd();
    const remote = createManifestDir();
    try {
      writeProject(remote, project, rt.dockerHost, { talker }, { ssh: { port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, hostKey: sshd.hostKeyLine } });
      const overSsh = await berth("logs", "Service/talker", "--env", env, "--dir", remote.dir, "--tail", "2");
      expect(overSsh.code, overSsh.stderr).toBe(0);
      for (const slot of ["0", "1"]) expect(overSsh.stdout.split("\n").filter((l) => l.startsWith(`talker-${slot} | line `))).toHaveLength(2);
      const execOverSsh = await berth("exec", "Service/talker", "--env", env, "--dir", remote.dir, "--replica", "1", "--", "hostname");
      expect(execOverSsh).toMatchObject({ code: 0, stdout: `${hostnames[1]}\n` });
    } finally {
      remote.cleanup();
      await sshd.stop();
    }
  }, 120_000);
});
