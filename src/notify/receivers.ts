import { EnvFileReader, SpecError } from "../desired/env.ts";
import type { AgeKeyring } from "../secrets/age-keys.ts";
import { SopsEnvFiles } from "../secrets/sops-env.ts";
import { HostPathPolicy, type HostPathOptions } from "../desired/host-paths.ts";
import { receiverIdentity } from "../manifests/rules/notifications.ts";
import type { NotificationEventName, NotificationReceiver, Resource, SecretSource } from "../manifests/types.ts";

/** Every event a receiver can hear, in the order the docs list them. */
export const NOTIFICATION_EVENTS: readonly NotificationEventName[] = ["rollout.succeeded", "rollout.failed", "rollout.rolled_back", "drift.repaired", "manifest.invalid", "source.failed", "source.unverified"];

/** One receiver as the manifests declare it; `id` (e.g. `Project/shop/ops-slack`) is what logs and the outbox name. */
export interface DeclaredReceiver {
  id: string;
  project: string;
  /** Set for an Environment's receiver: it hears only that environment's outcomes (and project-wide ones). */
  environment?: string;
  spec: NotificationReceiver;
  /** `file:line:col` of the declaring document, for messages. */
  where: string;
}

/** Receivers declared by the Projects and Environments of a desired state, by id. */
export function declaredReceivers(resources: readonly Resource[]): Map<string, DeclaredReceiver> {
  const out = new Map<string, DeclaredReceiver>();
  for (const resource of resources) {
    const where = `${resource.source.file}:${resource.source.line}:${resource.source.col}`;
    if (resource.kind === "Project") {
      const { spec, metadata } = resource as Resource<"Project">;
      for (const receiver of spec.notifications ?? []) {
        const id = `Project/${metadata.name}/${receiverIdentity(receiver)}`;
        out.set(id, { id, project: metadata.name, spec: receiver, where });
      }
    } else if (resource.kind === "Environment") {
      const { spec, metadata } = resource as Resource<"Environment">;
      for (const receiver of spec.notifications ?? []) {
        const id = `Environment/${metadata.name}/${receiverIdentity(receiver)}`;
        out.set(id, { id, project: spec.project, environment: metadata.name, spec: receiver, where });
      }
    }
  }
  return out;
}

/** Whether a receiver listens to this event name (every event when it names none). */
export function listensTo(receiver: DeclaredReceiver, event: string): boolean {
  return !receiver.spec.events || (receiver.spec.events as string[]).includes(event);
}

/** Events that belong to no project: an invalid file, the git source. */
const PROJECTLESS_EVENTS: ReadonlySet<string> = new Set(["manifest.invalid", "source.failed", "source.unverified"]);

/**
 * Whether an event concerns a receiver: a project-less event (an invalid file,
 * the git source) concerns every receiver; one of a project, that project's
 * receivers and those of its environments (only the named one when the event
 * names an environment). A rollout or drift whose project is unknown concerns
 * no receiver: it is never sent to other projects' receivers.
 */
export function concerns(receiver: DeclaredReceiver, event: { event: string; project?: string; environment?: string }): boolean {
  if (event.project === undefined) return PROJECTLESS_EVENTS.has(event.event);
  if (receiver.project !== event.project) return false;
  return receiver.environment === undefined || event.environment === undefined || receiver.environment === event.environment;
}

/** A receiver's URL or signing secret cannot be read; the message names the receiver and the source, never a value. */
export class ReceiverSecretError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ReceiverSecretError";
  }
}

/**
 * Reads receivers' secrets from the same sources as Service secrets (a key of
 * a dotenv file under the host-path policy, or the daemon's environment). A
 * new resolver re-reads the files, so one is made per delivery round: an
 * edited env file takes effect without a manifest change.
 */
export class ReceiverSecrets {
  private files: EnvFileReader;
  private readonly reader: () => EnvFileReader;

  constructor(dir: string, private readonly daemonEnv: NodeJS.ProcessEnv, hostPaths?: HostPathOptions, private readonly ageKeys?: AgeKeyring) {
    // Receivers' env files may be SOPS-encrypted like Services' ones.
    this.reader = () => new EnvFileReader(dir, new HostPathPolicy(dir, hostPaths), ageKeys && new SopsEnvFiles(ageKeys));
    this.files = this.reader();
  }

  /** As `resolve`, waiting once for a SOPS data key that is still being decrypted. */
  async resolveReady(receiver: DeclaredReceiver): Promise<{ url: string; signingSecret?: string }> {
    try {
      return this.resolve(receiver);
    } catch (error) {
      if (!this.ageKeys?.pending()) throw error;
      await this.ageKeys.settled();
      // The reader remembers what failed; a fresh one reads the file again with its key now at hand.
      this.files = this.reader();
      return this.resolve(receiver);
    }
  }

  /** The receiver's URL and signing secret, or a ReceiverSecretError saying what to fix. */
  resolve(receiver: DeclaredReceiver): { url: string; signingSecret?: string } {
    const url = this.read(receiver, "urlFrom", receiver.spec.urlFrom);
    try {
      new URL(url);
    } catch (error) {
      throw new ReceiverSecretError(`${receiver.where}: ${receiver.id}: the value read by urlFrom is not a URL; expected e.g. https://hooks.example.com/berth`, { cause: error });
    }
    const signing = receiver.spec.signingSecretFrom;
    return { url, signingSecret: signing ? this.read(receiver, "signingSecretFrom", signing) : undefined };
  }

  private read(receiver: DeclaredReceiver, field: string, source: SecretSource): string {
    const prefix = `${receiver.where}: ${receiver.id}: ${field}`;
    if (source.daemonEnv !== undefined) {
      const value = this.daemonEnv[source.daemonEnv];
      if (!value) throw new ReceiverSecretError(`${prefix} reads daemon variable ${source.daemonEnv}, which is not set; expected it in the environment berth runs with, e.g. ${source.daemonEnv}=… berth run`);
      return value;
    }
    let values: Record<string, string>;
    try {
      values = this.files.read(source.envFile, receiver.where);
    } catch (error) {
      if (!(error instanceof SpecError)) throw error;
      throw new ReceiverSecretError(`${prefix}: ${error.message}`, { cause: error });
    }
    const value = values[source.key];
    if (!value) throw new ReceiverSecretError(`${prefix} reads key ${source.key} from ${this.files.resolve(source.envFile)}, which has no such key; expected a line ${source.key}=… in that file`);
    return value;
  }
}
