import { Option } from "commander";
import { stringify } from "yaml";
import type { CommandModule } from "../context.ts";
import { dbOption } from "../runtime.ts";
import { openStore } from "../../store/index.ts";
import { resourceView } from "../../store/repositories.ts";
import { renderManifestHealth } from "../status-table.ts";
import { age, table } from "../table.ts";

/** `berth status`: every resource's phase as last recorded, from the store. */
export const register: CommandModule["register"] = (program, io) => {
  program
    .command("status")
    .description("show every resource's phase, readiness and message, and every broken manifest file, as last recorded (reads the store; no daemon needed)")
    .addOption(dbOption())
    .addOption(new Option("-o, --output <format>", "table, json or yaml").choices(["table", "json", "yaml"]).default("table"))
    .action(async (options: { db: string; output: "table" | "json" | "yaml" }) => {
      const store = await openStore(options.db, { mustExist: true });
      try {
        const rows = (await store.resources.list()).map(resourceView);
        const files = await store.manifests.list();
        const broken = files.filter((f) => f.state !== "valid");
        // Only broken files are listed; `valid` counts the others.
        const manifests = { ok: broken.length === 0, valid: files.length - broken.length, files: broken };
        if (options.output === "json") return io.stdout(`${JSON.stringify({ items: rows, manifests }, null, 2)}\n`);
        if (options.output === "yaml") return io.stdout(stringify({ items: rows, manifests }));
        const now = Date.now();
        io.stdout(
          table(
            ["KIND", "NAME", "PHASE", "READY", "UPDATED", "MESSAGE"],
            rows.map((r) => [r.kind, r.name, r.phase, r.conditions.find((c) => c.type === "Ready")?.status === "True" ? "yes" : "no", age(now - r.updatedAt), r.message]),
          ),
        );
        io.stdout(`\n${renderManifestHealth(files, now)}`);
      } finally {
        store.close();
      }
    });
};
