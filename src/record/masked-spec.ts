import { MASK } from "../log/logger.ts";

/**
 * A spec as stored and shown: literal values of env entries marked secret are
 * masked, and entries read through `valueFrom` (an env file, the daemon's
 * environment) are marked secret, as they are treated when deployed; wherever
 * an `env` list appears (a Service's, an Environment override's).
 */
export function maskedSpec(spec: unknown): unknown {
  if (spec === undefined || spec === null) return {};
  const copy = structuredClone(spec);
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== "object") return;
    const record = node as Record<string, unknown>;
    if (Array.isArray(record.env)) {
      for (const variable of record.env as { secret?: boolean; value?: string; valueFrom?: unknown }[]) {
        if (!variable || typeof variable !== "object") continue;
        if (variable.valueFrom !== undefined) variable.secret = true;
        if (variable.secret && variable.value !== undefined) variable.value = MASK;
      }
    }
    Object.values(record).forEach(walk);
  };
  walk(copy);
  return copy;
}
