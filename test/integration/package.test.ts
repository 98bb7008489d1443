import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "berth-package-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the npm package", () => {
  it("packs, installs into an empty directory with its production dependencies only, and runs berth version and validate", async () => {
    await run("npm", ["pack", "--silent", "--pack-destination", work], { maxBuffer: 16 * 1024 * 1024 });
    const tarball = readdirSync(work).find((f) => /^berth-.*\.tgz$/.test(f));
    expect(tarball).toBeDefined();
    const { stdout: listing } = await run("tar", ["-tzf", join(work, tarball!)]);
    // Compiled code, CRDs and migrations ship; TypeScript sources and tests do not.
    expect(listing).toContain("package/dist/berth.js");
    expect(listing).toContain("package/crds/service.yaml");
    expect(listing).toContain("package/src/store/migrations/0000_initial.sql");
    expect(listing).not.toMatch(/package\/src\/.*\.ts\n|package\/test\//);

    const app = join(work, "app");
    await run("mkdir", ["-p", app]);
    await run("npm", ["install", "--no-audit", "--no-fund", "--omit=dev", join(work, tarball!)], { cwd: app, maxBuffer: 16 * 1024 * 1024 });
    expect(existsSync(join(app, "node_modules/tsx"))).toBe(false);
    expect(existsSync(join(app, "node_modules/typescript"))).toBe(false);
    const berth = join(app, "node_modules/.bin/berth");
    const version = await run(berth, ["version"], { cwd: app });
    expect(version.stdout).toMatch(/^berth \d+\.\d+\.\d+/);
    const validate = await run(berth, ["validate", resolve("manifests")], { cwd: app });
    expect(validate.stdout).toContain("valid");
  }, 300_000);
});
