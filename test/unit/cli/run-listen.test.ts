import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tokenFileWarning } from "../../../src/cli/commands/run.ts";
import { isLoopbackHost, listenRefusal } from "../../../src/http/listen.ts";
import { parseListen } from "../../../src/http/server.ts";
import { cliRunner } from "../../support/cli.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "berth-run-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("berth run --listen on a non-loopback address", () => {
  for (const listen of ["0.0.0.0:0", "[::]:0", ":::0", "192.0.2.10:9464"]) {
    it(`refuses ${listen} without an API token before it opens the store or starts anything, naming --api-token-file`, async () => {
      const db = join(dir, "state", "berth.db");
      const { code, stderr } = await cliRunner({})("run", "manifests", "--listen", listen, "--db", `file:${db}`);
      expect(code).toBe(1);
      expect(stderr).toContain(`refusing to listen on ${listen}`);
      expect(stderr).toContain("--api-token-file");
      expect(stderr).toContain("BERTH_API_TOKEN");
      expect(stderr).toContain("--insecure-listen");
      expect(existsSync(db)).toBe(false);
    });
  }

  it("refuses an API token that is too short before it opens the store", async () => {
    const db = join(dir, "state", "berth.db");
    const token = join(dir, "token");
    writeFileSync(token, "short\n", { mode: 0o600 });
    const { code, stderr } = await cliRunner({})("run", "manifests", "--api-token-file", token, "--db", `file:${db}`);
    expect(code).toBe(1);
    expect(stderr).toContain("the API token is shorter than 16 characters");
    expect(existsSync(db)).toBe(false);
  });

  it("refuses an --allowed-host that is not a host name, before it opens the store", async () => {
    const db = join(dir, "state", "berth.db");
    const { code, stderr } = await cliRunner({})("run", "manifests", "--allowed-host", "http://berth.internal/", "--db", `file:${db}`);
    expect(code).toBe(1);
    expect(stderr).toContain('--allowed-host "http://berth.internal/"');
    expect(existsSync(db)).toBe(false);
  });

  it("documents --allowed-host, --insecure-listen and the token requirement in --help", async () => {
    const { code, stdout } = await cliRunner({})("run", "--help");
    expect(code).toBe(0);
    expect(stdout).toContain("--allowed-host <name>");
    expect(stdout).toContain("--insecure-listen");
    expect(stdout).toMatch(/non-loopback/);
    expect(stdout).toContain("docs/security.md");
  });
});

describe("listenRefusal", () => {
  it("allows loopback without a token, and anything with a token or the override", async () => {
    expect(await listenRefusal("127.0.0.1:9464", { token: false, insecure: false })).toBeUndefined();
    expect(await listenRefusal(":9464", { token: false, insecure: false })).toBeUndefined();
    expect(await listenRefusal("[::1]:9464", { token: false, insecure: false })).toBeUndefined();
    expect(await listenRefusal("localhost:9464", { token: false, insecure: false })).toBeUndefined();
    expect(await listenRefusal("0.0.0.0:9464", { token: true, insecure: false })).toBeUndefined();
    expect(await listenRefusal("0.0.0.0:9464", { token: false, insecure: true })).toBeUndefined();
    expect(await listenRefusal("0.0.0.0:9464", { token: false, insecure: false })).toContain("--api-token-file");
  });

  it("tells loopback addresses from others", async () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "localhost"]) expect(await isLoopbackHost(host), host).toBe(true);
    for (const host of ["0.0.0.0", "::", "192.0.2.10", "fd00::1", "::ffff:192.0.2.10"]) expect(await isLoopbackHost(host), host).toBe(false);
  });
});

describe("parseListen", () => {
  it("takes IPv6 addresses in brackets, as URLs write them", () => {
    expect(parseListen("[::1]:9464")).toEqual({ host: "::1", port: 9464 });
    expect(parseListen("[::]:0")).toEqual({ host: "::", port: 0 });
    expect(parseListen(":9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseListen("0.0.0.0:9464")).toEqual({ host: "0.0.0.0", port: 9464 });
  });
});

describe("tokenFileWarning", () => {
  it("warns when others than the owner can read the token file, naming chmod 600", () => {
    const token = join(dir, "token");
    writeFileSync(token, "0123456789abcdef0123\n");
    chmodSync(token, 0o644);
    expect(tokenFileWarning(token)).toBe(`the API token file ${token} can be read by other users (mode 0644); expected only its owner, e.g. chmod 600 ${token}`);
    chmodSync(token, 0o600);
    expect(tokenFileWarning(token)).toBeUndefined();
  });
});
