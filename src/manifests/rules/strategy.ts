import type { ServiceSpec } from "../types.ts";
import { warningAt, type WarningRule } from "./catalog.ts";
import type { ManifestWarning } from "./warning.ts";

/**
 * Named volumes a Service's containers can write. During a rolling update the old
 * and the new container run side by side, so each of these has two writers.
 */
export function writableNamedVolumes(spec: Pick<ServiceSpec, "volumes">): string[] {
  return (spec.volumes ?? []).filter((v) => v.type === "volume" && !v.readOnly && v.source).map((v) => v.source!);
}

/** Asking for rolling updates of a Service that writes a named volume risks its data (e.g. a Redis AOF). */
export const rollingUpdatesShareNoVolume: WarningRule = (catalog) => {
  const warnings: ManifestWarning[] = [];
  for (const service of catalog.byKind.Service.values()) {
    const { spec } = service.resource;
    const volumes = writableNamedVolumes(spec);
    if (spec.update?.strategy !== "rolling" || volumes.length === 0) continue;
    const named = `named volume${volumes.length === 1 ? "" : "s"} ${volumes.join(", ")}`;
    warnings.push(
      warningAt(service, ["spec", "update", "strategy"], `a rolling update runs the old and the new container side by side, both writing ${named}`, {
        expected: "update.strategy: recreate, or accept two containers writing the volume during an update",
        example: "strategy: recreate",
      }),
    );
  }
  return warnings;
};
