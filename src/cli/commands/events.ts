import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { dbOption } from "../options.ts";
import { age, table } from "../table.ts";

/** `berth events [--for Kind/name]`: recorded events, newest first. */
export const register: CommandModule["register"] = (program, io) => {
  program
    .command("events")
    .description("show recorded events, newest first (reads the store)")
    .option("--for <Kind/name>", "only events of one resource, e.g. Service/production/web")
    .addOption(new Option("--limit <n>", "at most this many").default(50).argParser(Number))
    .addOption(dbOption())
    .addOption(new Option("-o, --output <format>", "table or json").choices(["table", "json"]).default("table"))
    .action(async (options: { for?: string; limit: number; db: string; output: "table" | "json" }) => {
      const { openStore } = await import("../../store/index.ts");
      const { involvedFilter } = await import("../../store/repositories.ts");
      const store = await openStore(options.db, { mustExist: true });
      try {
        const events = await store.events.list({ ...involvedFilter(options.for), limit: options.limit });
        if (options.output === "json") return io.stdout(`${JSON.stringify({ items: events }, null, 2)}\n`);
        const now = Date.now();
        io.stdout(table(["LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"], events.map((e) => [age(now - e.lastTime), e.type, e.reason, `${e.involvedKind}/${e.involvedName}`, String(e.count), e.message])));
      } finally {
        store.close();
      }
    });
};
