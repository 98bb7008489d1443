import type Docker from "dockerode";
import type { RegistryAuth } from "./registry-auth.ts";

/** How a DockerDriver runs one engine call: timed, reported to its hooks, retried when read-only. */
export type EngineCall = <T>(operation: string, fn: () => Promise<T>, meta?: { mutating?: boolean; object?: string; reason?: string }) => Promise<T>;

/** The engine's place in a Swarm cluster, from /info. */
export interface SwarmNode {
  /** inactive, pending, active, error or locked. */
  state: string;
  /** Whether this node is a manager that can take service changes. */
  manager: boolean;
  nodeId: string;
  nodes: number;
  managers: number;
}

/** A Swarm service as Berth reads it: its spec, its version (for updates) and how its last update went. */
export interface SwarmService {
  id: string;
  version: number;
  spec: Docker.ServiceSpec;
  /** The spec before the last update: what a rollback returns to. */
  previousSpec?: Docker.ServiceSpec;
  /** updating, paused, completed, rollback_started, rollback_paused or rollback_completed; absent before any update. */
  updateState?: string;
  updateMessage?: string;
  createdAt: string;
  updatedAt: string;
}

/** One task of a Swarm service: a slot (or node, in global mode) and the container Swarm runs there. */
export interface SwarmTask {
  id: string;
  slot?: number;
  nodeId?: string;
  /** new … starting, running, complete, failed, shutdown, rejected, orphaned, remove. */
  state: string;
  desiredState: string;
  message?: string;
  error?: string;
  containerId?: string;
  exitCode?: number;
  /** The container labels of the spec the task runs (they carry the revision). */
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/** Swarm mode calls of one target's engine (a manager node), through the driver's call discipline. */
export class SwarmApi {
  constructor(private readonly docker: Docker, private readonly call: EngineCall) {}

  async node(): Promise<SwarmNode> {
    const info = (await this.call("system.info", () => this.docker.info())) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string; Nodes?: number; Managers?: number } };
    const swarm = info.Swarm ?? {};
    return { state: swarm.LocalNodeState ?? "inactive", manager: swarm.ControlAvailable === true, nodeId: swarm.NodeID ?? "", nodes: swarm.Nodes ?? 0, managers: swarm.Managers ?? 0 };
  }

  async listServices(labels: string[]): Promise<SwarmService[]> {
    const services = await this.call("service.list", () => this.docker.listServices({ filters: { label: labels } }));
    return services.map((s) => {
      const raw = s as Docker.Service & { UpdateStatus?: { State?: string; Message?: string } };
      return {
        id: raw.ID,
        version: raw.Version?.Index ?? 0,
        spec: raw.Spec ?? {},
        previousSpec: raw.PreviousSpec,
        updateState: raw.UpdateStatus?.State,
        updateMessage: raw.UpdateStatus?.Message,
        createdAt: raw.CreatedAt ?? "",
        updatedAt: raw.UpdatedAt ?? "",
      };
    });
  }

  async listTasks(serviceId: string): Promise<SwarmTask[]> {
    const tasks = (await this.call("task.list", () => this.docker.listTasks({ filters: { service: [serviceId] } }))) as RawTask[];
    return tasks.map((t) => ({
      id: t.ID,
      slot: t.Slot,
      nodeId: t.NodeID,
      state: t.Status?.State ?? "new",
      desiredState: t.DesiredState ?? "running",
      message: t.Status?.Message,
      error: t.Status?.Err,
      containerId: t.Status?.ContainerStatus?.ContainerID,
      exitCode: t.Status?.ContainerStatus?.ExitCode,
      labels: t.Spec?.ContainerSpec?.Labels ?? {},
      createdAt: t.CreatedAt ?? "",
      updatedAt: t.UpdatedAt ?? "",
    }));
  }

  async createService(spec: Docker.ServiceSpec, reason: string, auth?: RegistryAuth): Promise<string> {
    const created = await this.call("service.create", () => (auth ? this.docker.createService(auth as Docker.AuthConfig, spec) : this.docker.createService(spec as Docker.CreateServiceOptions)), { mutating: true, object: spec.Name, reason });
    return (created as unknown as { id?: string; ID?: string }).id ?? (created as unknown as { ID: string }).ID;
  }

  async updateService(id: string, version: number, spec: Docker.ServiceSpec, reason: string, auth?: RegistryAuth): Promise<void> {
    // Only the version goes in the query string; the spec (env values) and credentials go in the body and header.
    await this.call("service.update", () => this.docker.getService(id).update({ _query: { version }, _body: spec, ...(auth ? { authconfig: auth } : {}) } as never), { mutating: true, object: spec.Name, reason });
  }

  async listSecrets(labels: string[]): Promise<{ id: string; name: string }[]> {
    const secrets = await this.call("secret.list", () => this.docker.listSecrets({ filters: { label: labels } }));
    return secrets.map((s) => ({ id: s.ID, name: s.Spec?.Name ?? "" }));
  }

  /** Creates a Swarm secret; the value goes in the request body only, never in what the hooks report. */
  async createSecret(name: string, value: string, labels: Record<string, string>, reason: string): Promise<string> {
    const created = await this.call("secret.create", () => this.docker.createSecret({ Name: name, Labels: labels, Data: Buffer.from(value, "utf8").toString("base64") }), { mutating: true, object: name, reason });
    return (created as unknown as { id: string }).id;
  }

  async removeSecret(id: string, name: string, reason: string): Promise<void> {
    await this.call("secret.remove", () => this.docker.getSecret(id).remove(), { mutating: true, object: name, reason });
  }

  /** The entrypoint and command an image on this node runs; undefined when the image is not here. */
  async imageProcess(ref: string): Promise<{ entrypoint?: string[] | null; cmd?: string[] | null } | undefined> {
    try {
      const info = await this.call("image.inspect", () => this.docker.getImage(ref).inspect());
      return { entrypoint: info.Config?.Entrypoint as string[] | null | undefined, cmd: info.Config?.Cmd };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  async removeService(id: string, name: string, reason: string): Promise<void> {
    await this.call("service.remove", () => this.docker.getService(id).remove(), { mutating: true, object: name, reason });
  }
}

interface RawTask {
  ID: string;
  Slot?: number;
  NodeID?: string;
  DesiredState?: string;
  CreatedAt?: string;
  UpdatedAt?: string;
  Status?: { State?: string; Message?: string; Err?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
  Spec?: { ContainerSpec?: { Labels?: Record<string, string> } };
}
