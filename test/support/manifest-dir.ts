import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A throw-away manifests directory; paths in messages are absolute below it. */
export interface ManifestDir {
  dir: string;
  write(file: string, content: string): string;
  remove(file: string): void;
  cleanup(): void;
}

export function createManifestDir(files: Record<string, string> = {}): ManifestDir {
  const dir = mkdtempSync(join(tmpdir(), "berth-manifests-"));
  const api: ManifestDir = {
    dir,
    write(file, content) {
      const path = join(dir, file);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      return path;
    },
    remove(file) {
      rmSync(join(dir, file), { force: true });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const [file, content] of Object.entries(files)) api.write(file, content);
  return api;
}

/** The header every test document shares. */
export function doc(kind: string, name: string, spec: string): string {
  return `apiVersion: berth.dev/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, "  ")}\n`;
}

/** A complete, valid project: one target, one project, one environment, one service. */
export function baseProject(): Record<string, string> {
  return {
    "base.yaml": [
      doc("DeploymentTarget", "local", "type: local"),
      doc("Project", "shop", "description: test shop"),
      doc("Environment", "dev", "project: shop\ntarget: local"),
    ].join("---\n"),
    "web.yaml": doc("Service", "web", "project: shop\nimage: web:1"),
  };
}
