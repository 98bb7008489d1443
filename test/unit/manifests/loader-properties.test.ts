import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManifestLoader } from "../../../src/manifests/load.ts";
import { baseProject, createManifestDir } from "../../support/manifest-dir.ts";

/**
 * Properties of the loader under arbitrary edits: whatever a commit holds, a
 * load ends (no throw, no hang), every problem is located, and a broken edit
 * never makes a resource disappear (its file holds its last good version).
 */

const names = (state: { resources: { kind: string; metadata: { name: string } }[] }) => state.resources.map((r) => `${r.kind}/${r.metadata.name}`).sort();

/** A YAML-ish edit of a valid file: characters replaced, inserted, deleted; or a whole random text. */
const edit = (original: string) =>
  fc.oneof(
    fc.array(fc.tuple(fc.nat({ max: original.length }), fc.constantFrom("", ":", "-", "[", "]", "{", "}", "&a", "*a", "*b", "!!", "\t", "\n", "  ", "'", '"', "#", "---", "?", "|", ">", "%", "@", "`", "\u0000", "é", "1e999", "~"), fc.nat({ max: 3 })), { minLength: 1, maxLength: 6 }).map((edits) => {
      let text = original;
      for (const [at, insert, remove] of edits) text = text.slice(0, Math.min(at, text.length)) + insert + text.slice(Math.min(at, text.length) + remove);
      return text;
    }),
    fc.string({ maxLength: 300 }),
    fc.constant("a: &a [*a]\n"),
    fc.constant("x: &x [1,1,1,1,1,1,1,1]\ny: &y [*x,*x,*x,*x,*x,*x,*x,*x]\nz: &z [*y,*y,*y,*y,*y,*y,*y,*y]\nw: [*z,*z,*z,*z,*z,*z,*z,*z,*z]\n"),
  );

describe("manifest loader properties", () => {
  it("after any edit of a file: the load ends, every error is located, and no resource of the last good state disappears", async () => {
    const files = baseProject();
    const dir = createManifestDir(files);
    try {
      const loader = new ManifestLoader(dir.dir);
      const good = await loader.load();
      expect(good.errors).toEqual([]);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom("base.yaml", "web.yaml").chain((file) => edit(files[file]!).map((text) => [file, text] as const)), async ([file, text]) => {
          dir.write(file, text);
          const state = await loader.load();
          // Located: every error names its file and a position in it.
          for (const error of state.errors) {
            expect(error.file).toMatch(/\.yaml$/);
            expect(error.line).toBeGreaterThanOrEqual(1);
            expect(error.col).toBeGreaterThanOrEqual(1);
          }
          expect(state.complete).toBe(state.errors.length === 0);
          // Nothing disappears through a broken edit: a file with errors holds its last good version.
          if (state.errors.some((e) => e.file.endsWith(file))) expect(names(state).filter((n) => names(good).includes(n))).toEqual(names(good));
          dir.write(file, files[file]!);
          expect((await loader.load()).errors).toEqual([]);
        }),
        { numRuns: 60 },
      );
    } finally {
      dir.cleanup();
    }
  }, 60_000);
});
