import { renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/log/logger.ts";
import { GitFollower, type SourceProblem, type SourceStatus } from "../../../src/source/follower.ts";
import { GitMirror } from "../../../src/source/git-mirror.ts";
import { readFileSync, writeFileSync } from "node:fs";
import { SignatureVerifier } from "../../../src/source/signatures.ts";
import { createGitRepo, git, sshSigningKey, type TestGitRepo } from "../../support/git-repo.ts";

const repos: TestGitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

function setup(path = "deploy") {
  const repo = createGitRepo();
  repos.push(repo);
  const mirror = new GitMirror({ url: `file://${repo.bare}`, path }, join(repo.root, "cache"));
  const problems: SourceProblem[] = [];
  const statuses: SourceStatus[] = [];
  const loaded: string[] = [];
  const logs: string[] = [];
  const follower = new GitFollower({
    mirror,
    intervalMs: 60_000,
    log: createLogger({ level: "debug", write: (line) => logs.push(line) }),
    observer: { sourceProblem: (_s, p) => problems.push(p), sourceChanged: (s) => statuses.push(s) },
    onCommit: async (info) => void loaded.push(info.commit),
  });
  return { repo, mirror, follower, problems, statuses, loaded, logs };
}

describe("GitFollower", () => {
  it("puts the fetched commit in force as a read-only snapshot and follows new commits and rewinds", async () => {
    const { repo, mirror, follower, loaded } = setup();
    const first = repo.commit({ "deploy/a.yaml": "one\n" }, "first");
    expect(await follower.init()).toBe(true);
    expect(follower.current).toMatchObject({ commit: first, subject: "first", fetchedCommit: first });
    expect(statSync(join(mirror.manifestsDir, "a.yaml")).mode & 0o222).toBe(0);
    const second = repo.commit({ "deploy/a.yaml": "two\n" }, "second");
    await follower.trigger("test");
    expect(follower.current.commit).toBe(second);
    repo.rewind(first);
    await follower.trigger("test");
    expect(follower.current.commit).toBe(first);
    expect(loaded).toEqual([first, second, first]);
  });

  it("keeps the last good commit when fetching fails, reports the cause once, and recovers", async () => {
    const { repo, follower, problems } = setup();
    const first = repo.commit({ "deploy/a.yaml": "one\n" }, "first");
    await follower.init();
    renameSync(repo.bare, `${repo.bare}.gone`);
    await follower.trigger("test");
    await follower.trigger("test");
    expect(follower.current.commit).toBe(first);
    expect(follower.current.conditions.find((c) => c.type === "SourceReady")).toMatchObject({ status: "False", reason: "FetchFailed" });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toContain(`commit ${first.slice(0, 12)} stays in force`);
    renameSync(`${repo.bare}.gone`, repo.bare);
    await follower.trigger("test");
    expect(follower.current.conditions.find((c) => c.type === "SourceReady")?.status).toBe("True");
  });

  it("refuses a commit without the manifests directory as a checkout failure, keeping the one in force", async () => {
    const { repo, follower } = setup();
    const first = repo.commit({ "deploy/a.yaml": "one\n" }, "first");
    await follower.init();
    git(repo.work, ["rm", "-q", "-r", "deploy"]);
    repo.commit({ "other.txt": "x\n" }, "moved away");
    await follower.trigger("test");
    expect(follower.current.commit).toBe(first);
    expect(follower.current.conditions.find((c) => c.type === "SourceReady")).toMatchObject({ status: "False", reason: "CheckoutFailed" });
  });

  it("starts from the snapshot an earlier run left in force when the repository is unreachable", async () => {
    const { repo, mirror } = setup();
    const first = repo.commit({ "deploy/a.yaml": "one\n" }, "first");
    const before = new GitFollower({ mirror, intervalMs: 60_000, log: createLogger({ level: "error", write: () => {} }), onCommit: async () => {} });
    await before.init();
    renameSync(repo.bare, `${repo.bare}.gone`);
    const after = new GitFollower({ mirror, intervalMs: 60_000, log: createLogger({ level: "error", write: () => {} }), onCommit: async () => {} });
    expect(await after.init()).toBe(true);
    expect(after.current.commit).toBe(first);
    expect(after.current.conditions.find((c) => c.type === "SourceReady")?.status).toBe("False");
  });
});

describe("GitFollower with --verify-signatures", () => {
  it("checks a refused commit again when the allowed signers change, and reports each refusal once", async () => {
    const repo = createGitRepo();
    repos.push(repo);
    const alice = sshSigningKey(repo.root, "alice");
    const bob = sshSigningKey(repo.root, "bob");
    const allowed = join(repo.root, "allowed_signers");
    writeFileSync(allowed, `alice@example.com ${readFileSync(`${alice}.pub`, "utf8")}`);
    const problems: string[] = [];
    const follower = new GitFollower({
      mirror: new GitMirror({ url: `file://${repo.bare}`, path: "deploy" }, join(repo.root, "cache")),
      verifier: new SignatureVerifier(allowed, join(repo.root, "cache")),
      intervalMs: 60_000,
      log: createLogger({ level: "error", write: () => {} }),
      observer: { sourceProblem: (_s, p) => problems.push(p.message) },
      onCommit: async () => {},
    });
    const first = repo.commit({ "deploy/a.yaml": "one\n" }, "by alice", { ssh: alice });
    expect(await follower.init()).toBe(true);
    expect(follower.current).toMatchObject({ commit: first, verified: true, signer: "alice@example.com" });
    const byBob = repo.commit({ "deploy/a.yaml": "two\n" }, "by bob", { ssh: bob });
    await follower.trigger("test");
    await follower.trigger("test");
    expect(follower.current.commit).toBe(first);
    expect(problems).toHaveLength(1);
    writeFileSync(allowed, `bob@example.com ${readFileSync(`${bob}.pub`, "utf8")}`, { flag: "a" });
    await follower.trigger("test");
    expect(follower.current).toMatchObject({ commit: byBob, verified: true, signer: "bob@example.com" });
    expect(follower.current.conditions.find((c) => c.type === "SourceVerified")?.status).toBe("True");
  });
});

describe("GitFollower across a restart", () => {
  it("keeps an outage that spans a restart as one: the failure keeps its recorded transition time", async () => {
    const { repo, mirror } = setup();
    repo.commit({ "deploy/a.yaml": "one\n" }, "first");
    renameSync(repo.bare, `${repo.bare}.gone`);
    const since = 1_000;
    const recorded = [{ type: "SourceReady" as const, status: "False" as const, reason: "FetchFailed", message: "earlier", lastTransitionTime: since }];
    const follower = new GitFollower({ mirror, intervalMs: 60_000, recorded, now: () => 5_000, log: createLogger({ level: "error", write: () => {} }), onCommit: async () => {} });
    await follower.init();
    expect(follower.current.conditions.find((c) => c.type === "SourceReady")).toMatchObject({ status: "False", lastTransitionTime: since });
    renameSync(`${repo.bare}.gone`, repo.bare);
    await follower.trigger("test");
    expect(follower.current.conditions.find((c) => c.type === "SourceReady")).toMatchObject({ status: "True", lastTransitionTime: 5_000 });
  });
});
