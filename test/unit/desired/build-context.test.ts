import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readBuildContext } from "../../../src/desired/build-context.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function context(): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-ctx-"));
  dirs.push(dir);
  writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
  return dir;
}

describe("readBuildContext", () => {
  it("rejects a FIFO, naming it, instead of blocking on a read", () => {
    const dir = context();
    execFileSync("mkfifo", [join(dir, "pipe")]);
    expect(() => readBuildContext(dir, {})).toThrow(/pipe is a FIFO/);
  });

  it("rejects a symlink to a FIFO without following it", () => {
    const dir = context();
    const outside = mkdtempSync(join(tmpdir(), "berth-out-"));
    dirs.push(outside);
    execFileSync("mkfifo", [join(outside, "fifo")]);
    symlinkSync(join(outside, "fifo"), join(dir, "link"));
    // Refused by looking at it (stat), never by opening it.
    expect(() => readBuildContext(dir, {}, "svc.yaml:4:3")).toThrow(/^svc\.yaml:4:3: build context .*: link is a symlink to a FIFO/);
  });

  it("keeps a symlink as a symlink: the hash follows the link text, not what it points at outside the context", () => {
    const dir = context();
    const outside = mkdtempSync(join(tmpdir(), "berth-out-"));
    dirs.push(outside);
    writeFileSync(join(outside, "secret"), "first\n");
    symlinkSync(join(outside, "secret"), join(dir, "link"));
    const before = readBuildContext(dir, {}).hash;
    writeFileSync(join(outside, "secret"), "second\n");
    expect(readBuildContext(dir, {}).hash).toBe(before);
  });

  it("does not walk into a symlinked directory outside the context", () => {
    const dir = context();
    const outside = mkdtempSync(join(tmpdir(), "berth-out-"));
    dirs.push(outside);
    mkdirSync(join(outside, "etc"));
    writeFileSync(join(outside, "etc", "passwd"), "root:x:0:0\n");
    symlinkSync(join(outside, "etc"), join(dir, "etc"));
    expect(readBuildContext(dir, {}).files).toEqual(["Dockerfile", "etc"]);
  });

  it("changes its hash when any file of the context changes", () => {
    const dir = context();
    writeFileSync(join(dir, "index.html"), "a\n");
    const before = readBuildContext(dir, {}).hash;
    writeFileSync(join(dir, "index.html"), "b\n");
    expect(readBuildContext(dir, {}).hash).not.toBe(before);
  });
});
