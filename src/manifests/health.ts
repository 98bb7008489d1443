import type { ManifestError } from "./errors.ts";
import type { DesiredState, FileState } from "./load.ts";

/** One problem of a broken file, located; `message` is the problem without the `file:line:col: ` prefix. */
export interface ManifestFileError {
  line: number;
  col: number;
  message: string;
}

/** A manifest file and what it holds in force: what `berth status` shows and the store keeps. */
export interface ManifestFileHealth {
  file: string;
  state: FileState;
  errors: ManifestFileError[];
  /**
   * `Kind/name` of every resource a broken file keeps in force: its last valid
   * version's when `stale`, its documents that passed their schema when `invalid`.
   * Empty for a valid file.
   */
  resources: string[];
}

/** What `/readyz` reports about the manifests: ok when no file is broken. */
export interface ManifestHealth {
  ok: boolean;
  broken: (ManifestFileError & { file: string })[];
}

/** Every file of a desired state with its errors and, when broken, the resources it holds in force; ordered by file. */
export function manifestFiles(state: DesiredState): ManifestFileHealth[] {
  const byFile = new Map<string, ManifestFileHealth>();
  for (const f of state.files) byFile.set(f.file, { file: f.file, state: f.state, errors: [], resources: [] });
  for (const error of state.errors) {
    const entry = byFile.get(error.file) ?? { file: error.file, state: "invalid" as const, errors: [], resources: [] };
    // An error always breaks its file; a file the loader did not list as broken is reported as never valid.
    if (entry.state === "valid") entry.state = "invalid";
    entry.errors.push(fileError(error));
    byFile.set(error.file, entry);
  }
  for (const resource of state.resources) {
    const entry = byFile.get(resource.source.file);
    if (entry && entry.state !== "valid") entry.resources.push(`${resource.kind}/${resource.metadata.name}`);
  }
  return [...byFile.values()].sort((a, b) => a.file.localeCompare(b.file));
}

/** Ok, or every problem of every broken file, for readiness. */
export function manifestHealth(state: DesiredState): ManifestHealth {
  return { ok: state.errors.length === 0, broken: state.errors.map((e) => ({ file: e.file, ...fileError(e) })) };
}

/** `file:line:col: message`, the one way every surface names a manifest problem. */
export function describeProblem(file: string, error: ManifestFileError): string {
  return `${file}:${error.line}:${error.col}: ${error.message}`;
}

function fileError(error: ManifestError): ManifestFileError {
  const prefix = `${error.file}:${error.line}:${error.col}: `;
  return { line: error.line, col: error.col, message: error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message };
}
