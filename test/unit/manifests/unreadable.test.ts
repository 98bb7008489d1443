import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadManifests } from "../../../src/manifests/load.ts";
import { SchemaValidator } from "../../../src/manifests/schema-validator.ts";
import { watchManifests } from "../../../src/manifests/watch.ts";
import { cliRunner } from "../../support/cli.ts";
import { baseProject, createManifestDir, doc, type ManifestDir } from "../../support/manifest-dir.ts";

/**
 * Whatever keeps one file or one document from being read is an error of that
 * file or document, located, never a failure of the whole load.
 */

let current: ManifestDir | undefined;
afterEach(() => current?.cleanup());

const located = (e: { file: string; line: number; col: number; resource: string; problem: string }) => `${e.file.split("/").pop()}:${e.line}:${e.col} ${e.resource}: ${e.problem}`;
const names = (resources: { kind: string; metadata: { name: string } }[]) => resources.map((r) => `${r.kind}/${r.metadata.name}`);

describe("a document that throws while it is read", () => {
  it("is an error of that document only, located at its start", async () => {
    /** Stands in for any failure not foreseen while reading one document. */
    class ThrowingValidator extends SchemaValidator {
      override validate(...args: Parameters<SchemaValidator["validate"]>) {
        const [, data] = args;
        if ((data as { metadata?: { name?: string } }).metadata?.name === "odd") throw new Error("unforeseen");
        return super.validate(...args);
      }
    }
    current = createManifestDir({ ...baseProject(), "odd.yaml": [doc("Service", "fine", "project: shop\nimage: fine:1"), doc("Service", "odd", "project: shop\nimage: odd:1")].join("---\n") });
    const state = await loadManifests(current.dir, { validator: new ThrowingValidator() });
    expect(state.errors.map(located)).toEqual(["odd.yaml:9:1 Service/odd: cannot read the document: unforeseen"]);
    expect(names(state.resources)).toEqual(["DeploymentTarget/local", "Project/shop", "Environment/dev", "Service/fine", "Service/web"]);
  });
});

describe("a manifest file that cannot be read", () => {
  /** A dangling symlink is listed (its name is a manifest's) but reading it fails. */
  function withDanglingLink() {
    current = createManifestDir(baseProject());
    symlinkSync(join(current.dir, "gone.yaml"), join(current.dir, "link.yaml"));
    return current;
  }

  it("is a located error of that file only; the other files load", async () => {
    const dir = withDanglingLink();
    const state = await loadManifests(dir.dir);
    expect(state.complete).toBe(false);
    expect(state.errors.map(located)).toEqual(["link.yaml:1:1 file: cannot read the file: ENOENT: no such file or directory"]);
    expect(state.errors[0]!.expected).toBeTruthy();
    expect(names(state.resources)).toEqual(["DeploymentTarget/local", "Project/shop", "Environment/dev", "Service/web"]);
    expect(state.files.find((f) => f.file.endsWith("link.yaml"))).toMatchObject({ state: "invalid", resources: 0 });
  });

  it("does not keep the watcher from starting, and `validate -o json` reports it in JSON", async () => {
    const dir = withDanglingLink();
    const watcher = await watchManifests(dir.dir, { onChange: () => {} });
    try {
      expect(watcher.current.errors).toHaveLength(1);
    } finally {
      await watcher.close();
    }
    const { code, stdout } = await cliRunner({})("validate", dir.dir, "-o", "json");
    expect(code).toBe(1);
    expect(JSON.parse(stdout).errors).toEqual([expect.objectContaining({ line: 1, col: 1, problem: expect.stringContaining("cannot read the file") })]);
  });
});
