import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitHookRoute, refMatches, type GitHook } from "../../../src/http/webhooks.ts";
import { publicUrl, scrubCredentials, urlCredential } from "../../../src/source/git-command.ts";

const secret = "a-webhook-secret-of-some-length";
const triggers: string[] = [];
const refusals: string[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  const hook: GitHook = { secret, ref: "main", trigger: (r) => triggers.push(r), refused: (why) => refusals.push(why) };
  server = createServer((req, res) => {
    void gitHookRoute(req, hook).then((answer) => {
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const hmac = (body: string, key = secret) => createHmac("sha256", key).update(body).digest("hex");
const post = (body: string, headers: Record<string, string>) => fetch(`${base}/hooks/git`, { method: "POST", body, headers });

describe("POST /hooks/git", () => {
  const body = JSON.stringify({ ref: "refs/heads/main" });

  it("accepts GitHub, Gitea, Forgejo and GitLab signatures and triggers a fetch for each", async () => {
    triggers.length = 0;
    expect((await post(body, { "x-hub-signature-256": `sha256=${hmac(body)}` })).status).toBe(202);
    expect((await post(body, { "x-gitea-signature": hmac(body) })).status).toBe(202);
    expect((await post(body, { "x-forgejo-signature": hmac(body) })).status).toBe(202);
    expect((await post(body, { "x-gitlab-token": secret })).status).toBe(202);
    expect(triggers).toEqual(["webhook github", "webhook gitea", "webhook gitea", "webhook gitlab"]);
  });

  it("refuses a wrong, truncated, non-hex or missing signature with 401 and never triggers", async () => {
    triggers.length = 0;
    refusals.length = 0;
    const wrong: Record<string, string>[] = [
      { "x-hub-signature-256": `sha256=${hmac(body, "other")}` },
      { "x-hub-signature-256": `sha256=${hmac(body).slice(0, 32)}` },
      { "x-gitea-signature": "zz" },
      { "x-gitlab-token": `${secret}x` },
      {},
    ];
    for (const headers of wrong) expect((await post(body, headers)).status).toBe(401);
    // The signature covers the body: the same signature on another body is refused.
    expect((await post(`${body} `, { "x-hub-signature-256": `sha256=${hmac(body)}` })).status).toBe(401);
    expect(triggers).toEqual([]);
    expect(refusals).toHaveLength(6);
    expect(refusals.join("\n")).not.toContain(secret);
  });

  it("accepts and ignores a push to another ref, and a ping", async () => {
    triggers.length = 0;
    const other = JSON.stringify({ ref: "refs/heads/feature" });
    const answer = await post(other, { "x-hub-signature-256": `sha256=${hmac(other)}` });
    expect(answer.status).toBe(202);
    expect(await answer.json()).toMatchObject({ accepted: true, fetching: false });
    const ping = await post("{}", { "x-github-event": "ping", "x-hub-signature-256": `sha256=${hmac("{}")}` });
    expect(ping.status).toBe(200);
    expect(triggers).toEqual([]);
  });

  it("answers only POST", async () => {
    expect((await fetch(`${base}/hooks/git`)).status).toBe(405);
  });
});

describe("refMatches", () => {
  it("matches branches, tags and full refs; HEAD follows the default branch", () => {
    expect(refMatches("main", "refs/heads/main")).toBe(true);
    expect(refMatches("v1", "refs/tags/v1")).toBe(true);
    expect(refMatches("refs/heads/main", "refs/heads/main")).toBe(true);
    expect(refMatches("main", "refs/heads/mainline")).toBe(false);
    expect(refMatches("HEAD", "refs/heads/trunk", "trunk")).toBe(true);
    expect(refMatches("HEAD", "refs/heads/feature", "trunk")).toBe(false);
    expect(refMatches("HEAD", "refs/heads/feature")).toBe(true);
  });
});

describe("repository URLs", () => {
  it("drops credentials of https URLs but keeps ssh user names", () => {
    expect(publicUrl("https://deploy:ghp_token@github.com/ops/m.git")).toBe("https://github.com/ops/m.git");
    expect(publicUrl("ssh://git@example.com:2222/ops/m.git")).toBe("ssh://git@example.com:2222/ops/m.git");
    expect(publicUrl("file:///srv/m.git")).toBe("file:///srv/m.git");
    expect(publicUrl("ssh://git:hunter2@example.com/ops/m.git")).toBe("ssh://git@example.com/ops/m.git");
    expect(publicUrl("https://example.com/ops/m.git?private_token=abc")).toBe("https://example.com/ops/m.git");
    expect(urlCredential("https://deploy:ghp_token@github.com/ops/m.git")).toBe("ghp_token");
    expect(urlCredential("https://x-token@github.com/ops/m.git")).toBe("x-token");
    expect(urlCredential("ssh://git@example.com/ops/m.git")).toBeUndefined();
    expect(scrubCredentials("fatal: unable to access 'https://u:secret@host/x/': 403")).toBe("fatal: unable to access 'https://host/x/': 403");
  });
});
