import { Option, type Command } from "commander";
import type { CommandModule, CliIO } from "../context.ts";
import { ageKeyFileOption, allowHostPathOption, dbOption, logOptions, type LogOptions } from "../options.ts";
import { DEFAULT_MANIFESTS_DIR } from "../defaults.ts";
import { withServiceRecords } from "../service-arg.ts";
import { table } from "../table.ts";
import type { BackupRow } from "../../store/backup-repository.ts";
import type { BackupService } from "../backup-service.ts";
import type { Runtime } from "../runtime.ts";

type ActOptions = LogOptions & { env?: string; dir: string; db: string; allowHostPath?: string[]; ageKeyFile?: string };

/** `berth backups`, `berth backup now` and `berth restore`: volume backups (see docs/backups.md). */
export const register: CommandModule["register"] = (program, io, setExitCode) => {
  program
    .command("backups")
    .description("list volume backups, newest first (reads the store)")
    .argument("[service]", "Service/name, or Service/environment/name; every service's when omitted")
    .option("--env <environment>", "the environment, when the argument does not name one")
    .addOption(dbOption())
    .addOption(new Option("-o, --output <format>", "table or json").choices(["table", "json"]).default("table"))
    .action(async (service: string | undefined, options: { env?: string; db: string; output: "table" | "json" }) => {
      const print = (rows: BackupRow[]) => io.stdout(options.output === "json" ? `${JSON.stringify({ items: rows }, null, 2)}\n` : describe(rows));
      if (service) return withServiceRecords(io, setExitCode, { service, env: options.env, db: options.db }, async (store, key) => print(await store.backups.list({ service: key })));
      const { openStore } = await import("../../store/index.ts");
      const store = await openStore(options.db, { mustExist: true });
      try {
        print(await store.backups.list());
      } finally {
        store.close();
      }
    });

  const backup = program.command("backup").description("back a service's volumes up now (see also berth backups, berth restore)");
  const now = backup
    .command("now")
    .description("back up every volume of the service that declares a backup (or only --volume), as its schedule would")
    .argument("<service>", "Service/name with --env, or Service/environment/name")
    .option("--volume <name>", "only this volume (as spec.volumes[].source names it)");
  actOptions(now).action(async (arg: string, options: ActOptions & { volume?: string }) => {
    await acting(io, setExitCode, arg, options, async ({ runtime, service, driver }) => {
      const { backupBusy, runBackup } = await import("../../backup/run.ts");
      const backups = service.backups.filter((b) => !options.volume || b.volume === options.volume);
      if (backups.length === 0) {
        io.stderr(`${service.key} declares no backup${options.volume ? ` of volume ${options.volume}` : ""}; expected spec.volumes[].backup, e.g. backup: {schedule: "0 3 * * *", retain: {count: 7}}\n`);
        return setExitCode(1);
      }
      for (const b of backups) {
        const busy = await backupBusy(runtime.store, service.key, b.volume);
        if (busy) {
          io.stderr(`not backing up volume ${b.volume}: ${busy}; expected it to end first (berth backups ${arg})\n`);
          setExitCode(1);
          continue;
        }
        const row = await runBackup(deps(runtime), driver, service, b, "manual");
        if (row.status === "succeeded") io.stdout(`backup ${row.id}: volume ${row.volume} -> ${row.destination} ${row.file} (${size(row.sizeBytes)}, sha256 ${row.sha256!.slice(0, 12)})\n`);
        else {
          io.stderr(`backup ${row.id}: ${row.error}\n`);
          setExitCode(1);
        }
      }
    });
  });

  const restore = program
    .command("restore")
    .description("put a backup back into its volume: stops the service, restores, starts it again")
    .argument("<service>", "Service/name with --env, or Service/environment/name")
    .requiredOption("--from <id>", "the backup to restore, from berth backups")
    .option("-y, --yes", "do not ask for confirmation")
    .option("--image <ref>", "the helper container's image (default: the service's own)");
  actOptions(restore).action(async (arg: string, options: ActOptions & { from: string; yes?: boolean; image?: string }) => {
    await acting(io, setExitCode, arg, options, async ({ runtime, service, driver }) => {
      const row = await runtime.store.backups.get(Number(options.from));
      if (!row) {
        io.stderr(`no backup ${options.from} in the store; expected an id from berth backups ${arg}\n`);
        return setExitCode(1);
      }
      const refusal = await restoreRefusal(runtime, service.key);
      if (refusal) {
        io.stderr(`not restoring: ${refusal}\n`);
        return setExitCode(1);
      }
      const prompt = `Restore backup ${row.id} (${new Date(row.startedAt).toISOString()}) into volume ${row.dockerVolume}? ${service.key} is stopped meanwhile and the volume's current data is replaced.`;
      if (!options.yes && !(await confirm(io, prompt))) return setExitCode(1);
      const { restoreBackup } = await import("../../backup/restore.ts");
      const result = await restoreBackup(deps(runtime), driver, service, row, options.image ?? service.backups.find((b) => b.volume === row.volume)?.image);
      io.stdout(`restored backup ${row.id} into volume ${row.dockerVolume}; ${result.stopped.length} container(s) stopped and started again\n`);
    });
  });
};

/** What acting on a service needs: where its manifests and store are, and how to log. */
function actOptions(command: Command): Command {
  command
    .option("--env <environment>", "the environment, when the argument does not name one")
    .option("--dir <dir>", "manifests directory", DEFAULT_MANIFESTS_DIR)
    .addOption(dbOption())
    .addOption(allowHostPathOption())
    .addOption(ageKeyFileOption());
  for (const option of logOptions()) command.addOption(option);
  return command;
}

type Acting = { runtime: Runtime } & BackupService;

/** Opens the runtime, finds the service and its target, runs `fn`, and closes everything; a problem is printed, exit 1. */
async function acting(io: CliIO, setExitCode: (code: number) => void, arg: string, options: ActOptions, fn: (acting: Acting) => Promise<void>): Promise<void> {
  const [{ createRuntime }, { backupServiceFromArgs }, { BackupError }, { ServiceArgumentError }] = await Promise.all([import("../runtime.ts"), import("../backup-service.ts"), import("../../backup/job.ts"), import("../service-containers.ts")]);
  const runtime = await createRuntime(io, options);
  try {
    const found = await backupServiceFromArgs(io, runtime, arg, options.env, options.dir, options);
    if (!found) return setExitCode(1);
    try {
      await fn({ runtime, ...found });
    } finally {
      found.driver.close();
    }
  } catch (error) {
    if (!(error instanceof BackupError || error instanceof ServiceArgumentError)) throw error;
    io.stderr(`${error.message}\n`);
    setExitCode(1);
  } finally {
    await runtime.close();
  }
}

function deps(runtime: Runtime) {
  return { store: runtime.store, log: runtime.log, metrics: runtime.metrics, now: Date.now, redact: (text: string) => runtime.redactor.redact(text) };
}

/** Why the service cannot be restored now: a backup of it runs, or a rollout is in flight (its containers are changing). */
async function restoreRefusal(runtime: Runtime, key: string): Promise<string | undefined> {
  const running = await runtime.store.backups.running(key);
  if (running) return `backup ${running.id} of ${key} is running; expected it to end first (berth backups)`;
  const { rolloutRecordId } = await import("../../../controllers/service/records.ts");
  if (await runtime.store.snapshots.load(rolloutRecordId(key))) return `a rollout of ${key} is in flight; expected it to end first (berth rollout status ${key})`;
  return undefined;
}

/** Asks on the terminal; without one, refuses (a restore replaces data: it is never done unasked). */
async function confirm(io: CliIO, prompt: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    io.stderr(`${prompt}\nnot restoring: no terminal to confirm on; expected --yes to restore without asking\n`);
    return false;
  }
  const { createInterface } = await import("node:readline/promises");
  const reader = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await reader.question(`${prompt} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    reader.close();
  }
}

function size(bytes: number | null): string {
  if (bytes === null) return "-";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function describe(rows: readonly BackupRow[]): string {
  if (rows.length === 0) return "no backups recorded\n";
  return table(
    ["ID", "SERVICE", "VOLUME", "STATUS", "TRIGGER", "STARTED", "DURATION", "SIZE", "SHA256", "ARCHIVE", "ERROR"],
    rows.map((r) => [String(r.id), r.service.replace(/^Service\//, ""), r.volume, r.status, r.trigger, new Date(r.startedAt).toISOString(), r.finishedAt ? `${((r.finishedAt - r.startedAt) / 1000).toFixed(1)}s` : "-", size(r.sizeBytes), r.sha256?.slice(0, 12) ?? "-", `${r.destination} ${r.file}`, r.error ?? ""]),
  );
}
