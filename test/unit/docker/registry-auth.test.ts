import { afterEach, describe, expect, it } from "vitest";
import { credentialsFor, digestOf, dockerConfigPath, isUnauthorized, parseDockerConfig, readDockerConfig, registryHost, registryOf, type RegistryLogin } from "../../../src/docker/registry-auth.ts";
import { unauthorizedMessage } from "../../../controllers/service/pull.ts";
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

describe("pull failures", () => {
  it.each([
    ["Head \"http://127.0.0.1:5000/v2/app/manifests/1\": no basic auth credentials", true],
    ["unauthorized: authentication required", true],
    ["pull access denied for acme/private, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", true],
    ["manifest for app:2 not found: manifest unknown", false],
    ["connect ECONNREFUSED 127.0.0.1:5000", false],
  ])("%s -> unauthorized %s", (text, want) => {
    expect(isUnauthorized(new Error(text))).toBe(want);
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
