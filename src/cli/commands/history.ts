import { Option } from "commander";
import type { CommandModule } from "../context.ts";
import { dbOption } from "../options.ts";
import { withServiceRecords } from "../service-arg.ts";
import { table } from "../table.ts";
import { isRepoDigest } from "../../docker/registry-auth.ts";

/** A digest cut to 12 hex digits, as revisions are (-o json has it whole); an image ID (no repo digest: built or loaded) says so. */
function shortDigest(digest: string | null): string {
  if (!digest) return "-";
  const short = digest.replace(/(sha256:[0-9a-f]{12})[0-9a-f]+$/, "$1");
  return isRepoDigest(digest) ? short : `image-id ${short}`;
}

/** What a row's imageDigest is: a pullable repo digest or the image ID. */
function imageDigestKind(digest: string | null): "repo-digest" | "image-id" | null {
  return digest ? (isRepoDigest(digest) ? "repo-digest" : "image-id") : null;
}

/** `berth history Service/name [--env E]`: rollouts of a service, newest first. */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("history")
    .description("show the rollouts of a service, newest first (reads the store)")
    .argument("<service>", "Service/name, or Service/environment/name")
    .option("--env <environment>", "the environment, when the argument does not name one")
    .addOption(dbOption())
    .addOption(new Option("-o, --output <format>", "table or json").choices(["table", "json"]).default("table"))
    .action(async (service: string, options: { env?: string; db: string; output: "table" | "json" }) => {
      await withServiceRecords(io, setExitCode, { service, env: options.env, db: options.db }, async (store, key) => {
        const rows = await store.deployments.list({ service: key });
        if (options.output === "json") return io.stdout(`${JSON.stringify({ service: key, items: rows.map((d) => ({ ...d, imageDigestKind: imageDigestKind(d.imageDigest) })) }, null, 2)}\n`);
        io.stdout(
          table(
            ["ID", "REVISION", "STATUS", "TRIGGER", "COMMIT", "IMAGE", "DIGEST", "STARTED", "DURATION", "PREVIOUS", "ERROR"],
            rows.map((d) => [String(d.id), d.revision.slice(0, 12), d.status, d.trigger, d.commit?.slice(0, 12) ?? "-", d.image, shortDigest(d.imageDigest), new Date(d.startedAt).toISOString(), d.completedAt ? `${((d.completedAt - d.startedAt) / 1000).toFixed(1)}s` : "-", d.previousRevision?.slice(0, 12) ?? "-", d.error ?? ""]),
          ),
        );
      });
    });
};
