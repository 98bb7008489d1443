/**
 * The imported project as manifest files: one per resource, each Service
 * with what could not be mapped written as comments above it.
 */
import { Document } from "yaml";
import type { Kind } from "../manifests/kinds.ts";
import { convertData, PREFERRED_API_VERSION, V1ALPHA1 } from "../manifests/versions.ts";
import type { Imported, ReportItem } from "./convert.ts";

export interface ManifestFile {
  /** Relative to the output directory. */
  path: string;
  text: string;
}

/** Renders a resource built in Berth's own form (v1alpha1 values) in the preferred apiVersion. */
function render(header: string[], resource: Record<string, unknown> & { kind: Kind }): string {
  const doc = new Document(convertData(resource.kind, structuredClone({ apiVersion: V1ALPHA1, ...resource }), PREFERRED_API_VERSION));
  doc.commentBefore = header.map((line) => ` ${line}`).join("\n");
  return doc.toString({ lineWidth: 0 });
}

export function manifestFiles(imported: Imported, composeFiles: readonly string[]): ManifestFile[] {
  const origin = `Imported from ${composeFiles.join(", ")} by berth import compose.`;
  const { project, environment } = imported;
  const metadata = (name: string, annotations: Record<string, string>) => ({ name, ...(Object.keys(annotations).length ? { annotations } : {}) });
  const projectWide = imported.report.filter((r) => r.service === "(project)");
  const files: ManifestFile[] = [
    { path: "project.yaml", text: render([origin, ...notMapped(projectWide)], { kind: "Project" as const, metadata: metadata(project.name, project.annotations), spec: {} }) },
    { path: "target.yaml", text: render([origin, "The Docker engine compose ran on: this host's (DOCKER_HOST, else /var/run/docker.sock)."], { kind: "DeploymentTarget" as const, metadata: { name: "local" }, spec: { type: "local" } }) },
    {
      path: `${environment.name}.yaml`,
      text: render(
        [
          origin,
          `adopt: Berth takes over what compose runs of ${environment.adopt.slice("compose/".length)} on this host, one Service at a time; remove it to start fresh instead.`,
          ...(Object.keys(environment.volumeNames).length ? ["volumeNames: the Docker volumes compose made, used in place so their data stays."] : []),
        ],
        { kind: "Environment" as const, metadata: { name: environment.name }, spec: { project: project.name, target: "local", tier: "production", adopt: environment.adopt, ...(Object.keys(environment.volumeNames).length ? { volumeNames: environment.volumeNames } : {}) } },
      ),
    },
  ];
  for (const service of imported.services) {
    const header = [origin, ...notMapped(service.unmapped.map((u) => ({ ...u, service: service.name })))];
    files.push({ path: `services/${service.name}.yaml`, text: render(header, { kind: "Service" as const, metadata: metadata(service.name, service.annotations), spec: service.spec }) });
  }
  return files;
}

function notMapped(items: readonly ReportItem[]): string[] {
  if (items.length === 0) return [];
  return ["Not mapped (kept out of this manifest):", ...items.map((i) => `  ${i.field}: ${i.why}`)];
}

/** The report as the command prints it: one line per field not mapped. */
export function reportLines(report: readonly ReportItem[]): string[] {
  return report.map((r) => `${r.service}\t${r.field}\t${r.why}`);
}

/** Whether a manifest names a file outside the output directory (env files, build contexts): the daemon must be allowed to read there. */
export function readsOutside(imported: Imported): boolean {
  const paths = imported.services.flatMap((s) => [...(s.spec.env ?? []).flatMap((e) => (e.valueFrom?.envFile ? [e.valueFrom.envFile] : [])), ...(s.spec.build ? [s.spec.build.context] : [])]);
  return paths.some((p) => p === ".." || p.startsWith("../"));
}
