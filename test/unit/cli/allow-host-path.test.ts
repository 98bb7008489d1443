import { describe, expect, it } from "vitest";
import { parseAllowHostPath } from "../../../src/cli/options.ts";
import { cliRunner } from "../../support/cli.ts";

describe("--allow-host-path", () => {
  for (const command of ["run", "apply", "plan", "diff-env"]) {
    it(`is a repeatable option of berth ${command}`, async () => {
      const { code, stdout } = await cliRunner({})(command, "--help");
      expect(code).toBe(0);
      expect(stdout).toContain("--allow-host-path <prefix>");
      expect(stdout).toMatch(/repeatable/);
    });
  }

  it("collects every value, in order", () => {
    expect(parseAllowHostPath("/srv/secrets", undefined)).toEqual(["/srv/secrets"]);
    expect(parseAllowHostPath("/var/run/docker.sock", ["/srv/secrets"])).toEqual(["/srv/secrets", "/var/run/docker.sock"]);
  });

  it("refuses a relative path before anything runs", async () => {
    expect(() => parseAllowHostPath("secrets", undefined)).toThrow(/--allow-host-path "secrets" is not an absolute path; expected e\.g\. --allow-host-path \/srv\/secrets/);
    const { code, stderr } = await cliRunner({})("plan", "manifests", "--allow-host-path", "secrets", "--db", "file::memory:");
    expect(code).toBe(1);
    expect(stderr).toContain('--allow-host-path "secrets" is not an absolute path');
  });
});
