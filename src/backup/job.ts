import type Docker from "dockerode";
import type { DesiredService } from "../desired/model.ts";
import type { BackupDestination } from "../desired/backups.ts";
import type { Driver, JobResult } from "../docker/driver.ts";
import type { Store } from "../store/index.ts";
import { LABEL, ownerFilter } from "../docker/labels.ts";
import { ARCHIVES } from "./script.ts";

/** A backup, restore or hook that did not do what it should; the message says what to fix. */
export class BackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BackupError";
  }
}

/** Records an event of the Service a backup or restore is of. */
export function serviceEvent(store: Pick<Store, "events">, service: DesiredService, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
  return store.events.record({ type, reason, message, kind: "Service", name: `${service.environment}/${service.service}` });
}

/** How a destination is recorded and shown: `volume:<docker volume>` or `path:<host directory>`. */
export function describeDestination(destination: BackupDestination): string {
  return destination.kind === "volume" ? `volume:${destination.volume}` : `path:${destination.path}`;
}

/** The destination back from its recorded form. */
export function parseDestination(recorded: string): BackupDestination {
  return recorded.startsWith("path:") ? { kind: "path", path: recorded.slice(5) } : { kind: "volume", volume: recorded.replace(/^volume:/, "") };
}

/** The Service's containers on its target, running ones first, lowest replica slot first. */
export async function serviceContainers(driver: Driver, service: DesiredService): Promise<Docker.ContainerInfo[]> {
  const listed = await driver.listContainers(ownerFilter({ target: service.target, project: service.project, environment: service.environment, service: service.service }));
  const running = (c: Docker.ContainerInfo) => (c.State === "running" ? 0 : 1);
  return listed.sort((a, b) => running(a) - running(b) || Number(a.Labels[LABEL.replica]) - Number(b.Labels[LABEL.replica]) || b.Created - a.Created);
}

/**
 * Runs a hook in a running replica: a non-zero exit is an error quoting the
 * end of its output (redacted: a dump tool may print a connection string).
 */
export async function runHook(driver: Driver, replica: Docker.ContainerInfo | undefined, which: "preHook" | "postHook", cmd: string[], key: string, redact: (text: string) => string): Promise<void> {
  if (!replica || replica.State !== "running") throw new BackupError(`${which} of ${key} needs a running replica to run in, and none runs; expected the Service running (or no ${which})`);
  const result = await driver.execJob(replica.Id, cmd, `backup ${which} of ${key}`);
  if (result.exitCode !== 0) throw new BackupError(`${which} ${JSON.stringify(cmd)} exited with code ${result.exitCode}${tail(result, redact)}`);
}

/** The end of a job's output, for an error message. */
export function tail(result: JobResult, redact: (text: string) => string): string {
  const text = redact(result.output.trim()).split("\n").slice(-5).join(" | ");
  return text ? `: ${text}` : "";
}

/** Makes a destination volume that does not exist yet, labelled as the Environment's (so it is never taken for someone else's). */
export async function ensureDestination(driver: Driver, service: DesiredService, destination: BackupDestination): Promise<void> {
  if (destination.kind !== "volume") return;
  if ((await driver.volumesNamed([destination.volume])).length) return;
  const labels = { [LABEL.managed]: "true", [LABEL.target]: service.target, [LABEL.project]: service.project, [LABEL.environment]: service.environment, [LABEL.volume]: destination.volume };
  await driver.createVolume({ Name: destination.volume, Labels: labels }, `backup destination of ${service.key}`);
}

/**
 * A helper container for one job: the shell script as its command, no
 * network, root (to read and restore every file whatever its owner), the
 * volume and the destination mounted as given.
 */
export function helperContainer(service: DesiredService, options: { name: string; image: string; job: "backup" | "restore"; script: string; volume: Docker.MountSettings; destination: BackupDestination; destinationReadOnly: boolean }): Docker.ContainerCreateOptions {
  const { destination } = options;
  const archives: Docker.MountSettings | undefined = destination.kind === "volume" ? { Type: "volume", Source: destination.volume, Target: ARCHIVES, ReadOnly: options.destinationReadOnly } : undefined;
  return {
    name: options.name,
    Image: options.image,
    Entrypoint: ["/bin/sh", "-c"],
    Cmd: [options.script],
    User: "0:0",
    Labels: { [LABEL.job]: options.job, [LABEL.project]: service.project, [LABEL.environment]: service.environment, [LABEL.service]: service.service },
    HostConfig: {
      NetworkMode: "none",
      Mounts: [options.volume, ...(archives ? [archives] : [])],
      // A host directory is made when missing, as `docker run -v` does (a bind mount would refuse it).
      ...(destination.kind === "path" ? { Binds: [`${destination.path}:${ARCHIVES}${options.destinationReadOnly ? ":ro" : ""}`] } : {}),
    },
  };
}
