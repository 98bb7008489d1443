/**
 * TypeScript view of the CRD schemas in crds/ (after defaults are applied).
 * The CRDs are the source of truth; crd-schema.test.ts keeps both in step.
 */
import type { Kind } from "./kinds.ts";

export interface Metadata {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Where a resource was declared, for messages and status. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

export interface DeploymentTargetSpec {
  type: "local" | "ssh" | "swarm";
  docker?: { host?: string };
  ssh?: {
    host: string;
    port: number;
    user: string;
    identityFile?: string;
    passphraseFromEnv?: string;
    hostKey: string;
    remoteSocket: string;
  };
  domain?: string;
  tls: boolean;
  labels?: Record<string, string>;
  /** Credentials for private registries; an entry wins over the daemon user's config.json for its server. */
  registries?: RegistryCredentials[];
}

export interface RegistryCredentials {
  /** Registry host[:port] (a URL is accepted; only its host counts), e.g. registry.example.com:5000 or docker.io. */
  server: string;
  username: string;
  passwordFrom: SecretSource;
}

export interface ProjectSpec {
  description?: string;
  labels?: Record<string, string>;
  notifications?: NotificationReceiver[];
}

/** Where a secret is read at use: a key of a dotenv file, or a variable of the daemon's own environment. */
export type SecretSource = { envFile: string; key: string; daemonEnv?: undefined } | { daemonEnv: string; envFile?: undefined; key?: undefined };

export type NotificationEventName = "rollout.succeeded" | "rollout.failed" | "rollout.rolled_back" | "drift.repaired" | "manifest.invalid" | "source.failed" | "source.unverified";

/** A webhook that hears outcomes; its URL and signing key are secrets, read when a notification is sent. */
export interface NotificationReceiver {
  /** Names the receiver in logs and the outbox (a DNS label, unique in its Project or Environment); a digest of urlFrom, signingSecretFrom and format without it. */
  name?: string;
  urlFrom: SecretSource;
  signingSecretFrom?: SecretSource;
  format: "json" | "slack";
  /** Which events it hears; every event when absent. */
  events?: NotificationEventName[];
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { envFile?: string; key?: string; daemonEnv?: string };
  secret: boolean;
}

export interface PortMapping {
  container: number;
  host?: number;
  protocol: "tcp" | "udp";
  hostIP: string;
}

export interface Resources {
  cpus?: number;
  memory?: string;
  reservations?: { cpus?: number; memory?: string };
}

export interface ServiceOverride {
  image?: string;
  replicas?: number;
  env?: EnvVar[];
  resources?: Resources;
  ports?: PortMapping[];
}

export interface EnvironmentSpec {
  project: string;
  target: string;
  tier: "development" | "staging" | "production" | "other";
  domain?: string;
  variables?: Record<string, string>;
  envFiles?: string[];
  overrides?: Record<string, ServiceOverride>;
  /** A compose project to take over: `compose/<project>`. */
  adopt?: string;
  /** Docker names of the Services' named volumes, instead of <project>-<environment>-<volume>: an existing volume is used in place. */
  volumeNames?: Record<string, string>;
  pruneVolumes: boolean;
  suspend: boolean;
  notifications?: NotificationReceiver[];
}

export interface VolumeMount {
  type: "volume" | "bind" | "tmpfs";
  source?: string;
  target: string;
  readOnly: boolean;
  backup?: VolumeBackupSpec;
}

/** Where a volume's backups go when its backup names no destination: this named volume of the Environment. */
export const DEFAULT_BACKUP_VOLUME = "backups";

/** Scheduled backups of one named volume (spec.volumes[].backup). */
export interface VolumeBackupSpec {
  /** Cron expression (5 fields, or 6 with seconds), or a nickname such as @daily. */
  schedule: string;
  retain: { count?: number; age?: string };
  /** Default: the Environment's named volume `backups`. */
  destination?: { volume?: string; path?: string };
  preHook?: string[];
  postHook?: string[];
  /** The helper container's image; default the Service's own. */
  image?: string;
}

export interface HealthCheck {
  exec?: { command: string[] };
  http?: { method: "GET" | "HEAD" | "POST"; path: string; port: number; expectStatus?: number; bodyPattern?: string };
  tcp?: { port: number };
  interval: string;
  timeout: string;
  retries: number;
  startPeriod: string;
}

export type DependencyCondition = "service_started" | "service_healthy" | "service_completed_successfully";

export interface ServiceSpec {
  project: string;
  role?: string;
  image?: string;
  imagePullPolicy: "IfNotPresent" | "Always" | "Never";
  build?: { context: string; dockerfile: string; args?: Record<string, string>; target?: string };
  command?: string[];
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
  hostname?: string;
  env?: EnvVar[];
  ports?: PortMapping[];
  volumes?: VolumeMount[];
  networks?: string[];
  healthCheck?: HealthCheck;
  dependsOn?: { service: string; condition: DependencyCondition }[];
  replicas: number;
  /** Swarm targets only: one task on every node placement allows. */
  global: boolean;
  /** Swarm targets only: which nodes may run its tasks. */
  placement?: { constraints?: string[]; preferences?: { spread: string }[] };
  resources?: Resources;
  restartPolicy: "no" | "always" | "on-failure" | "unless-stopped";
  stopGracePeriod: string;
  labels?: Record<string, string>;
  routing?: { host?: string; path: string; port: number };
  update?: {
    strategy?: "rolling" | "recreate";
    maxSurge: number;
    maxUnavailable: number;
    healthTimeout: string;
    autoRollback: boolean;
  };
}

export interface SpecByKind {
  DeploymentTarget: DeploymentTargetSpec;
  Project: ProjectSpec;
  Environment: EnvironmentSpec;
  Service: ServiceSpec;
}

/** One validated manifest document. */
export interface Resource<K extends Kind = Kind> {
  apiVersion: string;
  kind: K;
  metadata: Metadata;
  spec: SpecByKind[K];
  source: SourceLocation;
}

export type DeploymentTarget = Resource<"DeploymentTarget">;
export type Project = Resource<"Project">;
export type Environment = Resource<"Environment">;
export type Service = Resource<"Service">;
