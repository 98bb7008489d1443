import type { DesiredState } from "../manifests/load.ts";
import { PREFERRED_API_VERSION, V1ALPHA1 } from "../manifests/versions.ts";

/** One line for the files that use a deprecated apiVersion (each is located in validate -o json), or nothing. */
export function deprecationNote(dir: string, state: Pick<DesiredState, "deprecations">): string {
  const files = state.deprecations ?? [];
  if (files.length === 0) return "";
  const first = files[0]!;
  return `warning: ${files.length} file${files.length === 1 ? "" : "s"} use${files.length === 1 ? "s" : ""} apiVersion ${V1ALPHA1}, which is deprecated (first at ${first.file}:${first.line}:${first.col}); berth migrate ${dir} rewrites them to ${PREFERRED_API_VERSION}, keeping comments and formatting\n`;
}
