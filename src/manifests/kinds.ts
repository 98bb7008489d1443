/** Every kind Berth understands, in the order resources are listed and reconciled. */
export const KINDS = ["DeploymentTarget", "Project", "Environment", "Service"] as const;

export type Kind = (typeof KINDS)[number];

/** True when `value` names a Berth kind. */
export function isKind(value: unknown): value is Kind {
  return typeof value === "string" && (KINDS as readonly string[]).includes(value);
}

/** Kubernetes-style reference used in messages and keys: `Kind/name`. */
export function resourceRef(kind: string, name: string): string {
  return `${kind}/${name}`;
}

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
