import { Option } from "commander";
import { stringify } from "yaml";
import type { CommandModule } from "../context.ts";
import { dbOption } from "../options.ts";
import { renderManifestHealth } from "../status-table.ts";
import { age, table } from "../table.ts";
import type { SourceCondition } from "../../source/follower.ts";
import type { SourceRow } from "../../store/source-repository.ts";

/** `berth status`: every resource's phase as last recorded, from the store. */
export const register: CommandModule["register"] = (program, io) => {
  program
    .command("status")
    .description("show every resource's phase, readiness and message, and every broken manifest file, as last recorded (reads the store; no daemon needed)")
    .addOption(dbOption())
    .addOption(new Option("-o, --output <format>", "table, json or yaml").choices(["table", "json", "yaml"]).default("table"))
    .action(async (options: { db: string; output: "table" | "json" | "yaml" }) => {
      const { openStore } = await import("../../store/index.ts");
      const { resourceView } = await import("../../store/repositories.ts");
      const store = await openStore(options.db, { mustExist: true });
      try {
        const rows = (await store.resources.list()).map(resourceView);
        const files = await store.manifests.list();
        const broken = files.filter((f) => f.state !== "valid");
        // Only broken files are listed; `valid` counts the others.
        const manifests = { ok: broken.length === 0, valid: files.length - broken.length, files: broken };
        const sources = (await store.sources.list()).map((row) => ({ ...row, conditions: JSON.parse(row.conditions) as SourceCondition[] }));
        const source = sources[0];
        if (options.output === "json") return io.stdout(`${JSON.stringify({ items: rows, manifests, ...(source ? { source } : {}) }, null, 2)}\n`);
        if (options.output === "yaml") return io.stdout(stringify({ items: rows, manifests, ...(source ? { source } : {}) }));
        const now = Date.now();
        io.stdout(
          table(
            ["KIND", "NAME", "PHASE", "READY", "UPDATED", "MESSAGE"],
            rows.map((r) => [r.kind, r.name, r.phase, r.conditions.find((c) => c.type === "Ready")?.status === "True" ? "yes" : "no", age(now - r.updatedAt), r.message]),
          ),
        );
        io.stdout(`\n${renderManifestHealth(files, now)}`);
        if (source) io.stdout(`\n${renderSource(source, now)}`);
      } finally {
        store.close();
      }
    });
};

/** The git source: what is followed, what is in force, whether it was verified, and what is wrong. */
function renderSource(source: Omit<SourceRow, "conditions"> & { conditions: SourceCondition[] }, now: number): string {
  const verified = source.verified === null ? "not checked" : source.verified ? `verified${source.signer ? ` (${source.signer})` : ""}` : "NOT verified";
  const lines = [
    `Source: ${source.url} ${source.ref}`,
    `  commit: ${source.commit ?? "none in force"}${source.subject ? ` "${source.subject}"` : ""}, signature ${verified}`,
    `  fetched: ${source.fetchedAt ? `${age(now - source.fetchedAt)} ago` : "never"}${source.fetchedCommit && source.fetchedCommit !== source.commit ? ` (newest ${source.fetchedCommit.slice(0, 12)} not in force)` : ""}`,
  ];
  for (const c of source.conditions) if (c.status !== "True") lines.push(`  ${c.type}=${c.status} ${c.reason}: ${c.message}`);
  return `${lines.join("\n")}\n`;
}
