import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestRuntime, eventually, projectContainers, removeProject, uniqueProject } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { createGitRepo, gpgSigningKey, sshSigningKey, type TestGitRepo } from "../support/git-repo.ts";
import type { ManifestDir } from "../support/manifest-dir.ts";
import { freePort, startChild, type Child } from "../support/processes.ts";
import { writeProject } from "../support/project.ts";
import { startTestSshd, type TestSshd } from "../support/sshd.ts";
import { openStore } from "../../src/store/index.ts";

const rt = createTestRuntime(inject("dockerHost"));
const cli = cliRunner({ ...process.env });
const projects: string[] = [];
const repos: TestGitRepo[] = [];

/** Writes the test project into the repository's `deploy/` folder, web's MARK variable telling commits apart. */
function deployFiles(repo: TestGitRepo, project: string, mark: string): void {
  const dir: ManifestDir = {
    dir: join(repo.work, "deploy"),
    write: (file, content) => {
      mkdirSync(join(repo.work, "deploy"), { recursive: true });
      writeFileSync(join(repo.work, "deploy", file), content);
      return file;
    },
    remove: () => {},
    cleanup: () => {},
  };
  writeProject(dir, project, rt.dockerHost, { web: { env: { MARK: mark } } });
}

/** The MARK of the project's running web container, once exactly one runs. */
async function runningMark(project: string): Promise<string | undefined> {
  const running = (await projectContainers(rt.docker, project)).filter((c) => c.State === "running");
  if (running.length !== 1) return undefined;
  const env = (await rt.docker.getContainer(running[0]!.Id).inspect()).Config.Env;
  return env.find((e) => e.startsWith("MARK="))?.slice("MARK=".length);
}

const markIs = (project: string, mark: string, timeoutMs = 30_000) => eventually(async () => ((await runningMark(project)) === mark ? true : undefined), timeoutMs, `web running with MARK=${mark}`);

async function statusJson(db: string): Promise<{ source?: { commit: string; fetchedCommit: string; verified: boolean | null; signer: string | null; conditions: { type: string; status: string; reason: string; message: string }[] } }> {
  const result = await cli("status", "-o", "json", "--db", db);
  return JSON.parse(result.stdout);
}

/** The daemon's source as its API serves it: cheap enough to poll. */
async function sourceOf(port: number): Promise<{ commit: string; fetchedCommit: string; conditions: { type: string; status: string; reason: string; message: string }[] }> {
  const body = (await (await fetch(`http://127.0.0.1:${port}/api/v1/sources`)).json()) as { items: Awaited<ReturnType<typeof sourceOf>>[] };
  return body.items[0]!;
}

afterAll(async () => {
  for (const p of projects) await removeProject(rt.docker, p);
  for (const r of repos) r.cleanup();
});

describe("berth run --git over ssh://", () => {
  let sshd: TestSshd;
  let repo: TestGitRepo;
  let knownHosts: string;
  let secretFile: string;
  const secret = "s3cret-webhook-key-0123456789";
  let daemon: Child | undefined;

  beforeAll(async () => {
    sshd = await startTestSshd();
    repo = createGitRepo();
    repos.push(repo);
    knownHosts = join(repo.root, "known_hosts");
    writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}\n`);
    secretFile = join(repo.root, "webhook-secret");
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    await daemon?.stop();
    await sshd?.stop();
  });

  it("converges, applies a webhook's push at once and a polled one within the interval, records the commit, keeps the last good commit when fetching fails", async () => {
    const project = uniqueProject("git");
    projects.push(project);
    deployFiles(repo, project, "1");
    const c1 = repo.commit({ "README.md": "ops repo\n" }, "first");
    const db = `file:${join(repo.root, "data", "berth.db")}`;
    const port = await freePort();
    const url = `ssh://${sshd.user}@127.0.0.1:${sshd.port}${repo.bare}`;
    const run = (interval: string) =>
      startChild(process.execPath, ["bin/berth.js", "run", "--git", url, "--git-path", "deploy", "--git-interval", interval, "--git-ssh-key", sshd.identityFile, "--git-known-hosts", knownHosts, "--webhook-secret-file", secretFile, "--db", db, "--listen", `127.0.0.1:${port}`, "--resync", "10m"]);
    daemon = run("1h");
    await markIs(project, "1", 60_000);

    // The commit is on the deployment, the events, the status and the metrics.
    const history = JSON.parse((await cli("history", "Service/web", "--env", `${project}-dev`, "-o", "json", "--db", db)).stdout);
    expect(history.items[0].commit).toBe(c1);
    const status = await statusJson(db);
    expect(status.source).toMatchObject({ commit: c1, url, ref: "HEAD", subject: "first", verified: null });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain(`berth_source_info{url="${url}",ref="HEAD",commit="${c1}",verified="unchecked"} 1`);
    const events = (await (await fetch(`http://127.0.0.1:${port}/api/v1/events?limit=1000`)).json()) as { items: { reason: string; commit: string | null; involvedKind: string }[] };
    expect(events.items.filter((e) => e.involvedKind === "Service").every((e) => e.commit === c1)).toBe(true);
    expect(events.items.find((e) => e.reason === "SourceCommitted")?.commit).toBe(c1);

    // A wrongly signed webhook: 401, audited, nothing fetched.
    deployFiles(repo, project, "2");
    const c2 = repo.commit({}, "second");
    const hook = (body: string, headers: Record<string, string>) => fetch(`http://127.0.0.1:${port}/hooks/git`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
    const push = JSON.stringify({ ref: "refs/heads/main", repository: { default_branch: "main" } });
    const sign = (body: string, key = secret) => createHmac("sha256", key).update(body).digest("hex");
    expect((await hook(push, { "x-github-event": "push", "x-hub-signature-256": `sha256=${sign(push, "wrong-secret")}` })).status).toBe(401);
    expect((await hook(push, {})).status).toBe(401);
    expect((await hook(push, { "x-gitlab-token": "not-the-secret" })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await sourceOf(port)).fetchedCommit).toBe(c1);
    expect(await runningMark(project)).toBe("1");
    const store = await openStore(db, { mustExist: true });
    try {
      const refused = (await store.audit.list({ target: "berth" })).filter((a) => a.operation === "webhook.refused");
      expect(refused).toHaveLength(3);
      expect(refused.map((a) => a.error).join("\n")).not.toContain(secret);
    } finally {
      store.close();
    }

    // A push to another branch is accepted and ignored.
    const other = JSON.stringify({ ref: "refs/heads/feature", repository: { default_branch: "main" } });
    const ignored = await hook(other, { "x-gitea-event": "push", "x-gitea-signature": sign(other) });
    expect(ignored.status).toBe(202);
    expect(await ignored.json()).toMatchObject({ accepted: true, fetching: false });

    // A correctly signed push: fetched at once (the poll is an hour away).
    const sent = Date.now();
    const accepted = await hook(push, { "x-github-event": "push", "x-hub-signature-256": `sha256=${sign(push)}` });
    expect(accepted.status).toBe(202);
    await eventually(async () => ((await sourceOf(port)).commit === c2 ? true : undefined), 3_000, "the webhook's commit in force within 3 s");
    const inForceMs = Date.now() - sent;
    await markIs(project, "2");
    console.log(`git source: webhook to commit in force ${inForceMs} ms, to new container running ${Date.now() - sent} ms`);
    await daemon.stop();

    // Polling: a restarted daemon (same cache) follows a push within interval + 5 s.
    daemon = run("3s");
    await markIs(project, "2");
    deployFiles(repo, project, "3");
    const pushed = Date.now();
    const c3 = repo.commit({}, "third");
    await eventually(async () => ((await sourceOf(port)).commit === c3 ? true : undefined), 8_000, "the polled commit in force within interval + 5 s");
    await markIs(project, "3");
    console.log(`git source: push to container running ${Date.now() - pushed} ms with a 3 s interval`);

    // A rewind (force-push to an older commit) is followed too.
    repo.rewind(c2);
    await markIs(project, "2", 20_000);
    expect((await statusJson(db)).source?.commit).toBe(c2);

    // The git server goes away: SourceReady=False, the last good commit stays, nothing is removed.
    await sshd.kill();
    const failing = await eventually(async () => {
      const ready = (await sourceOf(port)).conditions.find((c) => c.type === "SourceReady");
      return ready?.status === "False" ? ready : undefined;
    }, 15_000, "SourceReady=False");
    expect(failing.reason).toBe("FetchFailed");
    expect(failing.message).toContain(`commit ${c2.slice(0, 12)} stays in force`);
    expect(await runningMark(project)).toBe("2");
    const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(readyz.status).toBe(503);
    expect(((await readyz.json()) as { checks: { name: string; ok: boolean; detail: string }[] }).checks.find((c) => c.name === "source")).toMatchObject({ ok: false, detail: expect.stringContaining("SourceReady=False") });
    await sshd.restart();
    await eventually(async () => ((await sourceOf(port)).conditions.find((c) => c.type === "SourceReady")?.status === "True" ? true : undefined), 20_000, "SourceReady=True again");
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    await daemon.stop();
    // The webhook secret is nowhere in the daemon's logs or its database.
    expect(daemon.output()).not.toContain(secret);
    daemon = undefined;
    const database = readFileSync(join(repo.root, "data", "berth.db")).toString("latin1");
    expect(database).not.toContain(secret);
  });
});

describe("berth apply --git --verify-signatures", () => {
  it("applies only commits signed by an allowed SSH or GPG key; refuses unsigned and unknown signers, keeping the last good commit", async () => {
    const repo = createGitRepo();
    repos.push(repo);
    const project = uniqueProject("sig");
    projects.push(project);
    const alice = sshSigningKey(repo.root, "alice");
    const mallory = sshSigningKey(repo.root, "mallory");
    const allowed = join(repo.root, "allowed_signers");
    writeFileSync(allowed, `alice@example.com ${readFileSync(`${alice}.pub`, "utf8")}`);
    const db = `file:${join(repo.root, "data", "berth.db")}`;
    const apply = (trust: string) => cli("apply", "--git", `file://${repo.bare}`, "--git-path", "deploy", "--verify-signatures", trust, "--db", db, "--wait", "--timeout", "60s");

    // What an apply without verification left in force is checked again once signatures are required.
    deployFiles(repo, project, "plain");
    const plain = repo.commit({}, "not signed, applied without verification");
    expect((await cli("apply", "--git", `file://${repo.bare}`, "--git-path", "deploy", "--db", db, "--wait", "--timeout", "60s")).code).toBe(0);
    const recheck = await apply(allowed);
    expect(recheck.code).toBe(1);
    expect(recheck.out).toContain(`commit ${plain.slice(0, 12)} is not applied: the commit is not signed; nothing is in force yet`);

    deployFiles(repo, project, "signed-1");
    const good = repo.commit({}, "signed by alice", { ssh: alice });
    expect((await apply(allowed)).code).toBe(0);
    expect(await runningMark(project)).toBe("signed-1");
    expect((await statusJson(db)).source).toMatchObject({ commit: good, verified: true, signer: "alice@example.com" });

    deployFiles(repo, project, "unsigned");
    const unsigned = repo.commit({}, "not signed");
    const refusedUnsigned = await apply(allowed);
    expect(refusedUnsigned.code).toBe(1);
    expect(refusedUnsigned.out).toContain(`commit ${unsigned.slice(0, 12)} is not applied: the commit is not signed; commit ${good.slice(0, 12)} stays in force`);
    expect(await runningMark(project)).toBe("signed-1");

    deployFiles(repo, project, "mallory");
    const forged = repo.commit({}, "signed by someone else", { ssh: mallory });
    const refusedForged = await apply(allowed);
    expect(refusedForged.code).toBe(1);
    expect(refusedForged.out).toContain(`commit ${forged.slice(0, 12)} is not applied: signed by key SHA256:`);
    expect(refusedForged.out).toContain("which the allowed signers do not list");
    const status = await statusJson(db);
    expect(status.source?.commit).toBe(good);
    expect(status.source?.conditions.find((c) => c.type === "SourceVerified")).toMatchObject({ status: "False", reason: "Unverified" });
    const store = await openStore(db, { mustExist: true });
    try {
      const events = await store.events.list({ kind: "Source" });
      expect(events.filter((e) => e.reason === "SourceUnverified").map((e) => e.commit).sort()).toEqual([plain, unsigned, forged].sort());
    } finally {
      store.close();
    }
    expect(await runningMark(project)).toBe("signed-1");

    deployFiles(repo, project, "signed-2");
    const next = repo.commit({}, "signed by alice again", { ssh: alice });
    expect((await apply(allowed)).code).toBe(0);
    expect(await runningMark(project)).toBe("signed-2");
    expect((await statusJson(db)).source).toMatchObject({ commit: next, verified: true });

    // GPG: an armored public keyring; a key outside it is refused.
    const carol = gpgSigningKey(repo.root, "Carol <carol@example.com>");
    const eve = gpgSigningKey(repo.root, "Eve <eve@example.com>");
    const keyring = join(repo.root, "trusted.asc");
    writeFileSync(keyring, carol.armored);
    deployFiles(repo, project, "gpg-1");
    const byCarol = repo.commit({}, "signed with gpg", carol);
    // A GPG signature is never judged by SSH allowed signers (nor by the daemon user's own keyring).
    const crossed = await apply(allowed);
    expect(crossed.code).toBe(1);
    expect(crossed.out).toContain(`commit ${byCarol.slice(0, 12)} is not applied: it is signed with GPG, but --verify-signatures holds SSH allowed signers`);
    expect((await apply(keyring)).code).toBe(0);
    expect(await runningMark(project)).toBe("gpg-1");
    expect((await statusJson(db)).source).toMatchObject({ commit: byCarol, verified: true, signer: "Carol <carol@example.com>" });
    deployFiles(repo, project, "gpg-eve");
    const byEve = repo.commit({}, "signed by eve", eve);
    const refusedEve = await apply(keyring);
    expect(refusedEve.code).toBe(1);
    expect(refusedEve.out).toContain(`commit ${byEve.slice(0, 12)} is not applied`);
    expect(await runningMark(project)).toBe("gpg-1");
  });
});
