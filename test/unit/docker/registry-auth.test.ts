import { afterEach, describe, expect, it } from "vitest";
import { credentialsFor, digestOf, dockerConfigPath, EngineStreamError, isUnauthorized, parseDockerConfig, readDockerConfig, registryHost, registryOf, repositoryOf, secretsOf, type RegistryLogin } from "../../../src/docker/registry-auth.ts";
import { DockerCallError, DockerTimeoutError, type Driver } from "../../../src/docker/driver.ts";
import { IMAGE_PULL_UNAUTHORIZED, pullWithCredentials, unauthorizedMessage } from "../../../controllers/service/pull.ts";
import { imageRunBy } from "../../../controllers/service/records.ts";
import { TerminalReconcileError } from "../../../src/engine/errors.ts";
import { loadManifests } from "../../../src/manifests/load.ts";
import { buildDesiredModel, secretValuesOf } from "../../../src/desired/model.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("registryOf: the registry an image reference pulls from, as Docker decides", () => {
  it.each([
    ["busybox", "docker.io"],
    ["busybox:1.36", "docker.io"],
    ["library/busybox", "docker.io"],
    ["acme/api:2", "docker.io"],
    ["docker.io/acme/api:2", "docker.io"],
    ["index.docker.io/acme/api", "docker.io"],
    ["ghcr.io/acme/api:2", "ghcr.io"],
    ["registry.example.com/team/api@sha256:abc", "registry.example.com"],
    ["127.0.0.1:5000/berth-test/busybox:1", "127.0.0.1:5000"],
    ["localhost/app:1", "localhost"],
    ["localhost:5000/app", "localhost:5000"],
    ["Registry.Example.com/app", "registry.example.com"],
  ])("%s -> %s", (ref, want) => {
    expect(registryOf(ref)).toBe(want);
  });

  it.each([
    ["https://index.docker.io/v1/", "docker.io"],
    ["registry-1.docker.io", "docker.io"],
    ["http://127.0.0.1:5000", "127.0.0.1:5000"],
    ["https://registry.example.com/v2/", "registry.example.com"],
    ["registry.example.com:443", "registry.example.com:443"],
  ])("server %s is host %s", (server, want) => {
    expect(registryHost(server)).toBe(want);
  });
});

describe("config.json", () => {
  it("reads auths given as base64 user:password or as username and password, keyed by host", () => {
    const config = parseDockerConfig(
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass") },
          "http://127.0.0.1:5000": { username: "local", password: "pw" },
          "ghcr.io": {},
        },
      }),
      "/home/u/.docker/config.json",
    );
    expect([...config.logins]).toEqual([
      ["docker.io", { username: "hubuser", password: "hub:pass" }],
      ["127.0.0.1:5000", { username: "local", password: "pw" }],
    ]);
    expect(config.problem).toBeUndefined();
  });

  it("keeps credential helpers for the message, and says when the file is not JSON", () => {
    const helpers = parseDockerConfig(JSON.stringify({ credsStore: "desktop", credHelpers: { "123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login" } }), "c.json");
    expect(helpers.credsStore).toBe("desktop");
    expect(helpers.helpers.get("123.dkr.ecr.eu-west-1.amazonaws.com")).toBe("ecr-login");
    expect(parseDockerConfig("{auths:", "c.json").problem).toMatch(/^c\.json is not valid JSON/);
  });

  it("is $DOCKER_CONFIG/config.json when set, else ~/.docker/config.json; a missing file is empty", () => {
    expect(dockerConfigPath({ DOCKER_CONFIG: "/etc/berth/docker", HOME: "/home/u" })).toBe("/etc/berth/docker/config.json");
    expect(dockerConfigPath({ HOME: "/home/u" })).toBe("/home/u/.docker/config.json");
    const missing = readDockerConfig({ HOME: "/home/u" }, () => {
      throw Object.assign(new Error("nope"), { code: "ENOENT" });
    });
    expect(missing).toEqual({ file: "/home/u/.docker/config.json", logins: new Map(), helpers: new Map() });
    const denied = readDockerConfig({ HOME: "/home/u" }, () => {
      throw Object.assign(new Error("nope"), { code: "EACCES" });
    });
    expect(denied.problem).toBe("/home/u/.docker/config.json cannot be read (EACCES)");
  });
});

describe("identity tokens (Azure ACR's config.json)", () => {
  const ACR_USER = "00000000-0000-0000-0000-000000000000";
  const TOKEN = "eyJhbGciOiJSUzI1NiJ9.refresh-token";
  const config = parseDockerConfig(JSON.stringify({ auths: { "berth.azurecr.io": { auth: b64(`${ACR_USER}:`), identitytoken: TOKEN }, "plain.example.com": { username: "bot", identitytoken: TOKEN } } }), "/c/config.json");

  it("sends the token as the engine's identitytoken beside the user and empty password", () => {
    expect(credentialsFor("berth.azurecr.io/app:1", [], config).auth).toEqual({ username: ACR_USER, password: "", identitytoken: TOKEN, serveraddress: "berth.azurecr.io" });
    expect(credentialsFor("plain.example.com/app:1", [], config).auth).toEqual({ username: "bot", password: "", identitytoken: TOKEN, serveraddress: "plain.example.com" });
  });

  it("masks the token like a password and never quotes it in a refusal", () => {
    const credentials = credentialsFor("berth.azurecr.io/app:1", [], config);
    expect(secretsOf(credentials.auth)).toEqual([TOKEN]);
    expect(secretsOf({ username: "u", password: "pw", serveraddress: "r" })).toEqual(["pw"]);
    const message = unauthorizedMessage("berth.azurecr.io/app:1", "edge", credentials, new Error("unauthorized: authentication required"));
    expect(message).toContain(`with the identity token of user ${ACR_USER} from /c/config.json`);
    expect(message).not.toContain(TOKEN);
  });
});

describe("credentialsFor", () => {
  const config = parseDockerConfig(JSON.stringify({ auths: { "127.0.0.1:5000": { auth: b64("fromconfig:cpw") }, "docker.io": { auth: b64("hub:hpw") } }, credHelpers: { "ghcr.io": "gh" } }), "/c/config.json");
  const login: RegistryLogin = { server: "127.0.0.1:5000", username: "frommanifest", password: "mpw", origin: "DeploymentTarget/t (base.yaml:1:1)" };

  it("a target's registries entry wins over config.json for the same server", () => {
    expect(credentialsFor("127.0.0.1:5000/app:1", [login], config)).toEqual({ registry: "127.0.0.1:5000", auth: { username: "frommanifest", password: "mpw", serveraddress: "127.0.0.1:5000" }, origin: login.origin, configFile: "/c/config.json" });
  });

  it("config.json answers for other servers; Hub logins go to Hub's address", () => {
    expect(credentialsFor("acme/api:2", [login], config).auth).toEqual({ username: "hub", password: "hpw", serveraddress: "https://index.docker.io/v1/" });
    expect(credentialsFor("127.0.0.1:5000/app:1", [], config).origin).toBe("/c/config.json");
  });

  it("no match: no credentials; a helper is named; an unreadable password is the problem", () => {
    expect(credentialsFor("quay.io/x/y", [login], config)).toEqual({ registry: "quay.io", configFile: "/c/config.json" });
    expect(credentialsFor("ghcr.io/x/y", [], config).helper).toBe("gh");
    const broken = { ...login, password: undefined, problem: "env file secrets/r.env cannot be read" };
    const refused = credentialsFor("127.0.0.1:5000/app:1", [broken], config);
    expect(refused.problem).toBe("env file secrets/r.env cannot be read");
    expect(refused).not.toHaveProperty("auth");
  });
});

/** An engine answer as dockerode reports a failed HTTP call (a pull's answer is only in the message). */
const engineAnswer = (status: number, answer: string) => Object.assign(new Error(`(HTTP code ${status}) server error - ${answer} `), { statusCode: status, json: null });

describe("pull failures", () => {
  it.each([
    ["Head \"http://127.0.0.1:5000/v2/app/manifests/1\": no basic auth credentials", true],
    ["Head \"https://berth.azurecr.io/v2/app/manifests/1\": unauthorized: authentication required", true],
    ["pull access denied for acme/private, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", true],
    ["Head \"https://ghcr.io/v2/acme/app/manifests/1\": denied", true],
    ["Get \"https://quay.io/v2/\": received unexpected HTTP status: 401 Unauthorized", true],
    ["manifest for app:2 not found: manifest unknown", false],
    ["Get \"https://registry.example.com/v2/ops/access-denied-page/manifests/1\": net/http: TLS handshake timeout", false],
    ["open /var/lib/docker/image/overlay2/layerdb/tmp: permission denied", false],
    ["manifest for registry.example.com/ops/unauthorized:1 not found: manifest unknown", false],
  ])("engine answer %s -> unauthorized %s", (text, want) => {
    expect(isUnauthorized(engineAnswer(500, text))).toBe(want);
    expect(isUnauthorized(new EngineStreamError(text))).toBe(want);
  });

  it("only the engine's answer counts: HTTP 401 does, a timeout, a lost connection or a plain message does not", () => {
    expect(isUnauthorized(Object.assign(new Error("(HTTP code 401) unexpected - "), { statusCode: 401 }))).toBe(true);
    expect(isUnauthorized(new DockerTimeoutError("image.pull", 1000))).toBe(false);
    expect(isUnauthorized(Object.assign(new Error("connect ECONNREFUSED /var/run/docker.sock"), { code: "ECONNREFUSED" }))).toBe(false);
    expect(isUnauthorized(new Error("unauthorized: authentication required"))).toBe(false);
  });

  describe("pullWithCredentials classifies the engine's answer, not Berth's wrapper text", () => {
    const ref = "registry.example.com/ops/access-denied-page:1";
    const driverFailing = (cause: unknown) => ({ target: "denied-target", pullImage: () => Promise.reject(new DockerCallError("denied-target", "image.pull", cause)) }) as unknown as Driver;

    it.each([
      ["a timeout pulling an image whose name says denied", new DockerTimeoutError("image.pull", 1000)],
      ["a TLS timeout the engine reports", engineAnswer(500, `Get "https://registry.example.com/v2/ops/access-denied-page/manifests/1": net/http: TLS handshake timeout`)],
      ["the engine's own disk refusing", new EngineStreamError("open /var/lib/docker/tmp/GetImageBlob123: permission denied")],
    ])("%s is retried as any failure, not a terminal refusal", async (_, cause) => {
      const error = await pullWithCredentials(driverFailing(cause), ref, "r", undefined).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DockerCallError);
      expect(error).not.toBeInstanceOf(TerminalReconcileError);
      expect((error as Error).message).toContain("denied");
    });

    it("a registry's refusal is terminal, ImagePullUnauthorized", async () => {
      const error = await pullWithCredentials(driverFailing(engineAnswer(500, `Head "https://registry.example.com/v2/ops/access-denied-page/manifests/1": unauthorized: authentication required`)), ref, "r", undefined).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TerminalReconcileError);
      expect(error).toMatchObject({ reason: IMAGE_PULL_UNAUTHORIZED });
    });
  });

  it("says which image, which registry and what to add", () => {
    const message = unauthorizedMessage("127.0.0.1:5000/app:1", "edge", { registry: "127.0.0.1:5000", configFile: "/root/.docker/config.json" }, new Error("no basic auth credentials"));
    expect(message).toBe(
      "image 127.0.0.1:5000/app:1: registry 127.0.0.1:5000 refused the pull without credentials (no basic auth credentials); expected registries: [{server: 127.0.0.1:5000, username: …, passwordFrom: {envFile: …, key: …}}] on DeploymentTarget/edge, or docker login 127.0.0.1:5000 as the daemon's user (/root/.docker/config.json)",
    );
    const helper = unauthorizedMessage("ghcr.io/a/b", "edge", { registry: "ghcr.io", helper: "desktop", configFile: "/c.json" }, new Error("denied"));
    expect(helper).toContain("leaves its credentials to the helper docker-credential-desktop, which Berth does not run");
    const refused = unauthorizedMessage("ghcr.io/a/b", "edge", { registry: "ghcr.io", auth: { username: "bot", password: "SECRETPW", serveraddress: "ghcr.io" }, origin: "DeploymentTarget/edge (b.yaml:1:1)", configFile: "/c.json" }, new Error("unauthorized"));
    expect(refused).toContain("with the credentials of user bot from DeploymentTarget/edge (b.yaml:1:1)");
    expect(refused).not.toContain("SECRETPW");
  });

  it("digest: the reference's own repo digest, else the image ID", () => {
    const digests = ["127.0.0.1:5000/berth-test/busybox@sha256:aa", "other/repo@sha256:bb"];
    expect(digestOf("127.0.0.1:5000/berth-test/busybox:1", digests, "sha256:id")).toBe("127.0.0.1:5000/berth-test/busybox@sha256:aa");
    expect(digestOf("berth-test/busybox:1", digests, "sha256:id")).toBe("sha256:id");
    expect(digestOf("docker.io/library/busybox:1.36", ["busybox@sha256:cc"], "sha256:id")).toBe("busybox@sha256:cc");
  });

  it("digest: repositories compare as Docker normalises them, not by prefix", () => {
    expect(repositoryOf("busybox")).toBe("docker.io/library/busybox");
    expect(repositoryOf("index.docker.io/library/busybox:1.36")).toBe("docker.io/library/busybox");
    expect(repositoryOf("acme/api@sha256:" + "a".repeat(64))).toBe("docker.io/acme/api");
    expect(repositoryOf("127.0.0.1:5000/team/api:2")).toBe("127.0.0.1:5000/team/api");
    // busybox-extra@ starts with "busybox" but is another repository.
    expect(digestOf("busybox:1.36", ["busybox-extra@sha256:dd"], "sha256:id")).toBe("sha256:id");
    expect(digestOf("library/busybox", ["docker.io/library/busybox@sha256:ee"], "sha256:id")).toBe("docker.io/library/busybox@sha256:ee");
  });

  it("digest: a pinned reference takes its own digest; several of one repository record the exact image ID", () => {
    const a = "sha256:" + "a".repeat(64);
    const b = "sha256:" + "b".repeat(64);
    const both = [`r.example.com/app@${a}`, `r.example.com/app@${b}`];
    expect(digestOf(`r.example.com/app@${b}`, both, "sha256:id")).toBe(`r.example.com/app@${b}`);
    expect(digestOf(`r.example.com/app:1@${a}`, both, "sha256:id")).toBe(`r.example.com/app@${a}`);
    expect(digestOf("r.example.com/app:1", both, "sha256:id")).toBe("sha256:id");
  });

  it("the image a revision runs is its containers' ImageID, the newest when replicas differ", () => {
    const label = (rev: string) => ({ "dev.berth.spec-hash": rev });
    const containers = [
      { ImageID: "sha256:old", Created: 100, Labels: label("rev1") },
      { ImageID: "sha256:first", Created: 200, Labels: label("rev2") },
      { ImageID: "sha256:newest", Created: 300, Labels: label("rev2") },
      { ImageID: "sha256:other", Created: 400, Labels: label("rev3") },
    ];
    expect(imageRunBy(containers, "rev2")).toBe("sha256:newest");
    expect(imageRunBy(containers, "rev1")).toBe("sha256:old");
    expect(imageRunBy(containers, "rev9")).toBeUndefined();
  });
});

describe("registries on a DeploymentTarget", () => {
  let dir: ManifestDir | undefined;
  afterEach(() => dir?.cleanup());
  const target = (registries: string) => ({ ...baseProject(), "base.yaml": baseProject()["base.yaml"]!.replace(doc("DeploymentTarget", "local", "type: local"), doc("DeploymentTarget", "local", `type: local\nregistries:\n${registries}`)) });

  it("reads passwords from an env file or the daemon's environment, and masks them", async () => {
    dir = createManifestDir({ ...target("  - {server: 'https://registry.example.com/v2/', username: ci, passwordFrom: {envFile: secrets/r.env, key: REG_PW}}\n  - {server: docker.io, username: hub, passwordFrom: {daemonEnv: HUB_PW}}\n  - {server: ghcr.io, username: gh, passwordFrom: {daemonEnv: UNSET_PW}}"), "secrets/r.env": "REG_PW=file-password\n" });
    const state = await loadManifests(dir.dir);
    expect(state.errors.map((e) => e.message)).toEqual([]);
    const model = buildDesiredModel(state, { daemonEnv: { HUB_PW: "env-password" } });
    const logins = model.registries!.get("local")!;
    expect(logins.map((l) => [l.server, l.username, l.password])).toEqual([
      ["registry.example.com", "ci", "file-password"],
      ["docker.io", "hub", "env-password"],
      ["ghcr.io", "gh", undefined],
    ]);
    expect(logins[2]!.problem).toMatch(/reads daemon variable UNSET_PW, which is not set/);
    expect(logins[0]!.origin).toMatch(/^DeploymentTarget\/local \(.*base\.yaml:1:1\)$/);
    expect([...secretValuesOf(model)]).toEqual(expect.arrayContaining(["file-password", "env-password"]));
  });

  it("rejects a server listed twice and a password without a source, located, with an example", async () => {
    dir = createManifestDir(target("  - {server: docker.io, username: a, passwordFrom: {daemonEnv: A}}\n  - {server: 'https://index.docker.io/v1/', username: b, passwordFrom: {daemonEnv: B}}"));
    const twice = (await loadManifests(dir.dir)).errors.map((e) => e.message.split(`${dir!.dir}/`).join(""));
    expect(twice).toEqual([
      "base.yaml:9:16: DeploymentTarget/local: registry docker.io is already listed at registries[0]; expected one entry per registry server, e.g. registries: [{server: docker.io, username: b, passwordFrom: {envFile: secrets/registry.env, key: REGISTRY_PASSWORD}}]",
    ]);
    dir.cleanup();
    dir = createManifestDir(target("  - {server: docker.io, username: a, passwordFrom: {envFile: secrets/r.env}}"));
    const [keyless] = (await loadManifests(dir.dir)).errors.map((e) => e.message.split(`${dir!.dir}/`).join(""));
    expect(keyless).toBe("base.yaml:8:54: DeploymentTarget/local: passwordFrom.envFile needs the \"key\" to read; expected envFile and key, e.g. passwordFrom: {envFile: secrets/r.env, key: REGISTRY_PASSWORD}");
  });
});
