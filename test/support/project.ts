import { migrateText } from "../../src/manifests/migrate.ts";
import { V1BETA1 } from "../../src/manifests/versions.ts";
import type { ManifestDir } from "./manifest-dir.ts";

/** Tests write what an operator should: the preferred apiVersion (the fields below are given in Berth's v1alpha1 words). */
const preferred = (text: string) => migrateText(text, V1BETA1).text;

export interface TestService {
  image?: string;
  replicas?: number;
  env?: Record<string, string>;
  /** Env variables read from env files in the manifests directory (secrets), name -> file. */
  envFiles?: Record<string, string>;
  command?: string[];
  dependsOn?: { service: string; condition: string }[];
  healthCheck?: string;
  volumes?: string;
  ports?: string;
  /** The update block as flow YAML, e.g. "{maxSurge: 1, healthTimeout: 20s}". */
  update?: string;
  /** Default 1s. */
  stopGracePeriod?: string;
}

const httpd = ["httpd", "-f", "-p", "8080", "-h", "/www"];

/** Writes a complete project for the test engine: target, project, one environment, one file per service. */
export function writeProject(dir: ManifestDir, project: string, dockerHost: string, services: Record<string, TestService>, options: { environment?: string; targetLabels?: string; ssh?: SshTargetSpec } = {}): void {
  const environment = options.environment ?? "dev";
  dir.write(
    "base.yaml",
    preferred(`apiVersion: berth.dev/v1alpha1
kind: DeploymentTarget
metadata:
  name: ${project}-engine
spec:
${options.ssh ? sshSpec(options.ssh, dockerHost) : `  type: local\n  docker:\n    host: ${dockerHost}\n`}${options.targetLabels ? `  labels: ${options.targetLabels}\n` : ""}---
apiVersion: berth.dev/v1alpha1
kind: Project
metadata:
  name: ${project}
`),
  );
  dir.write(
    `env-${environment}.yaml`,
    preferred(`apiVersion: berth.dev/v1alpha1
kind: Environment
metadata:
  name: ${project}-${environment}
spec:
  project: ${project}
  target: ${project}-engine
`),
  );
  for (const [name, s] of Object.entries(services)) writeService(dir, project, name, s);
}

/** An ssh DeploymentTarget: the remote socket is the test engine's own, reached through sshd. */
export interface SshTargetSpec {
  port: number;
  user: string;
  identityFile: string;
  hostKey: string;
}

function sshSpec(ssh: SshTargetSpec, dockerHost: string): string {
  return `  type: ssh\n  ssh:\n    host: 127.0.0.1\n    port: ${ssh.port}\n    user: ${ssh.user}\n    identityFile: ${ssh.identityFile}\n    hostKey: "${ssh.hostKey}"\n    remoteSocket: ${dockerHost.replace(/^unix:\/\//, "")}\n`;
}

export function writeService(dir: ManifestDir, project: string, name: string, s: TestService): void {
  const env = [
    ...Object.entries(s.env ?? {}).map(([k, v]) => `    - {name: ${k}, value: ${JSON.stringify(v)}}`),
    ...Object.entries(s.envFiles ?? {}).map(([k, file]) => `    - {name: ${k}, valueFrom: {envFile: ${file}}}`),
  ].join("\n");
  const depends = (s.dependsOn ?? []).map((d) => `    - {service: ${d.service}, condition: ${d.condition}}`).join("\n");
  dir.write(
    `svc-${name}.yaml`,
    preferred(`apiVersion: berth.dev/v1alpha1
kind: Service
metadata:
  name: ${name}
spec:
  project: ${project}
  image: ${s.image ?? "berth-test/busybox:1"}
  imagePullPolicy: Never
  command: ${JSON.stringify(s.command ?? httpd)}
  replicas: ${s.replicas ?? 1}
  stopGracePeriod: ${s.stopGracePeriod ?? "1s"}
${env ? `  env:\n${env}\n` : ""}${depends ? `  dependsOn:\n${depends}\n` : ""}${s.healthCheck ? `  healthCheck: ${s.healthCheck}\n` : ""}${s.volumes ? `  volumes: ${s.volumes}\n` : ""}${s.ports ? `  ports: ${s.ports}\n` : ""}${s.update ? `  update: ${s.update}\n` : ""}`),
  );
}
