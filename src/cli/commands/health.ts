import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { dbOption } from "../options.ts";
import { withServiceRecords } from "../service-arg.ts";
import { table } from "../table.ts";

/** `berth health Service/name [--env E]`: recent health results of a service's containers. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("health")
    .description("show recent health check results of a service's containers (reads the store)")
    .argument("<service>", "Service/name, or Service/environment/name")
    .option("--env <environment>", "the environment, when the argument does not name one")
    .addOption(new Option("--limit <n>", "at most this many").default(20).argParser(Number))
    .addOption(dbOption())
    .addOption(new Option("-o, --output <format>", "table or json").choices(["table", "json"]).default("table"))
    .action(async (service: string, options: { env?: string; limit: number; db: string; output: "table" | "json" }) => {
      await withServiceRecords(io, setExitCode, { service, env: options.env, db: options.db }, async (store, key) => {
        const rows = await store.health.list({ service: key, limit: options.limit });
        if (options.output === "json") return io.stdout(`${JSON.stringify({ service: key, items: rows }, null, 2)}\n`);
        io.stdout(
          table(
            ["TIME", "CONTAINER", "STATUS", "CHECK", "HTTP", "MS", "OUTPUT"],
            rows.map((h) => [new Date(h.time).toISOString(), h.instance, h.status, h.checkType, h.httpStatus ? String(h.httpStatus) : "-", h.responseMs !== null ? String(Math.round(h.responseMs)) : "-", (h.output ?? h.error ?? "").replace(/\s+/g, " ").slice(0, 80)]),
          ),
        );
      });
    });
};
