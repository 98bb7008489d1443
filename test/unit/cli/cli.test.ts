import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { cliRunner } from "../../support/cli.ts";

const berth = cliRunner({});

describe("berth validate", () => {
  it("accepts the example manifests", async () => {
    const { code, stdout } = await berth("validate", "manifests");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^manifests: valid \(7 files: 1 DeploymentTarget, 1 Project, 2 Environments, 3 Services\)/);
  });

  it("reports a cycle, a duplicate name, an unknown reference, a bad port and a YAML syntax error together, and exits 1", async () => {
    const { code, stdout } = await berth("validate", "test/fixtures/invalid");
    expect(code).toBe(1);
    expect(stdout.trim().split("\n")).toEqual([
      'test/fixtures/invalid/base.yaml:19:11: Environment/dev: DeploymentTarget/locl does not exist (did you mean "local"?); expected the name of a declared DeploymentTarget: local, e.g. target: local',
      "test/fixtures/invalid/broken.yaml:8:1: Service/broken: YAML syntax error: Missing closing \"quote; expected valid YAML: consistent indentation, a space after each ':', quotes around values containing ': ' or '#', e.g. name: web",
      'test/fixtures/invalid/port.yaml:8:20: Service/web: Sometimes is not a valid "imagePullPolicy"; expected one of IfNotPresent | Always | Never, e.g. IfNotPresent',
      'test/fixtures/invalid/port.yaml:11:13: Service/web: 70000 is out of range for "host"; expected a whole number from 1 to 65535, e.g. 8080',
      'test/fixtures/invalid/port.yaml:12:3: Service/web: unknown field "imagee" (did you mean "image"?); expected one of project, role, image, imagePullPolicy, build, command, entrypoint, workingDir, user, hostname, env, ports, volumes, networks, healthCheck, dependsOn, replicas, global, placement, resources, restartPolicy, stopGracePeriod, labels, routing, update, e.g. image: nginx:1.27',
      "test/fixtures/invalid/services.yaml:9:16: Service/a: dependency cycle: a -> b -> c -> a; expected dependencies that form no loop; remove one dependsOn entry of the cycle, e.g. dependsOn: [] in Service/a",
      "test/fixtures/invalid/services.yaml:34:9: Service/a: duplicate name: Service/a is already declared at test/fixtures/invalid/services.yaml:1:1; expected a name unique among Service resources, e.g. name: a-2",
      expect.stringMatching(/^test\/fixtures\/invalid: 7 problems in 4 files/),
    ]);
  });

  it("prints machine-readable results with -o json", async () => {
    const { code, stdout } = await berth("validate", "test/fixtures/invalid", "-o", "json");
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.valid).toBe(false);
    expect(report.errors).toHaveLength(7);
    expect(report.errors[0]).toMatchObject({ file: "test/fixtures/invalid/base.yaml", line: 19, col: 11, resource: "Environment/dev", expected: expect.any(String), example: "target: local" });
    expect(report.files.map((f: { state: string }) => f.state)).toEqual(["invalid", "invalid", "invalid", "invalid"]);
  });

  it("rejects an unknown output format", async () => {
    const { code, stderr } = await berth("validate", "manifests", "-o", "xml");
    expect(code).toBe(1);
    expect(stderr).toContain('unknown output format "xml"; expected text or json');
  });
});

describe("berth", () => {
  it("prints help for the program and each command, exit 0", async () => {
    const top = await berth("--help");
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("validate [options] [dir]");
    const sub = await berth("validate", "--help");
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain("Exit status: 0 when valid, 1 when any problem is found.");
  });

  it("prints its version", async () => {
    const { code, stdout } = await berth("version");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^berth \d+\.\d+\.\d+\nmanifest API: berth\.dev\/v1beta1 \(also served: berth\.dev\/v1alpha1, deprecated\)\n/);
  });

  it("fails on an unknown command", async () => {
    const { code, stderr } = await berth("launch");
    expect(code).toBe(1);
    expect(stderr).toContain("unknown command 'launch'");
  });

  it("runs as an executable from bin/ (what `npx berth` starts)", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["bin/berth.js", "validate", "manifests"]);
    expect(stdout).toMatch(/^manifests: valid/);
    const failed = await promisify(execFile)(process.execPath, ["bin/berth.js", "validate", "test/fixtures/invalid"]).catch((e) => e);
    expect(failed.code).toBe(1);
    // Two cold starts of the CLI from source on a loaded 2-core machine: time is measured in bench/, not here.
  }, 30_000);
});
