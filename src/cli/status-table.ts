import type { ResourceStatus } from "../engine/controller.ts";
import { describeProblem, type ManifestFileHealth } from "../manifests/health.ts";
import { age, table } from "./table.ts";

/** The manager's view of every resource as a table: kind, name, phase, ready, message. */
export function renderStatusTable(statuses: readonly ResourceStatus[]): string {
  return table(["KIND", "NAME", "PHASE", "READY", "MESSAGE"], statuses.map((s) => [s.kind, s.name, s.phase, s.ready ? "yes" : "no", s.message]));
}

/**
 * The manifests' health as `berth status` prints it: one line when every file is
 * valid; else each broken file's problems at file:line:col and what it holds in force.
 */
export function renderManifestHealth(files: readonly (ManifestFileHealth & { updatedAt?: number })[], now = Date.now()): string {
  const broken = files.filter((f) => f.state !== "valid");
  if (files.length === 0) return "Manifests: none recorded yet\n";
  if (broken.length === 0) return `Manifests: all ${files.length} file${files.length === 1 ? "" : "s"} valid\n`;
  const lines = [`Manifests: ${broken.length} of ${files.length} file${files.length === 1 ? "" : "s"} broken; nothing is pruned until every file is valid`];
  for (const f of broken) {
    for (const error of f.errors) lines.push(describeProblem(f.file, error));
    if (f.errors.length === 0) lines.push(`${f.file}: broken`);
    const since = f.updatedAt === undefined ? "" : ` (first reported ${age(now - f.updatedAt)} ago)`;
    const held = f.resources.join(", ");
    if (f.state === "stale") lines.push(`  held at last good: ${held || "nothing"}${since}`);
    else lines.push(`  never valid since loading began; ${held ? `in force from its valid documents: ${held}` : "nothing in force from it"}${since}`);
  }
  return `${lines.join("\n")}\n`;
}
