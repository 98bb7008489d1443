import { stringify } from "yaml";
import { doc } from "./manifest-dir.ts";

export type Spec = Record<string, unknown>;

/** One manifest document whose spec is given as an object. */
export const manifest = (kind: string, name: string, spec: Spec) => doc(kind, name, stringify(spec).trimEnd());

/** Project `shop`: its Services, its Environments (each already naming shop and target local), targets and extra files. */
export interface Shop {
  services: Record<string, Spec>;
  environments?: Record<string, Spec>;
  project?: Spec;
  /** The spec of target `local`. */
  target?: Spec;
  /** Several targets by name; replaces `target`. */
  targets?: Record<string, Spec>;
  files?: Record<string, string>;
}

/** The files of a Shop, ready for createManifestDir. */
export function shopFiles({ services, environments = { dev: {} }, project = { description: "test shop" }, target = { type: "local" }, targets = { local: target }, files = {} }: Shop): Record<string, string> {
  return {
    "base.yaml": [
      ...Object.entries(targets).map(([name, spec]) => manifest("DeploymentTarget", name, spec)),
      manifest("Project", "shop", project),
      ...Object.entries(environments).map(([name, spec]) => manifest("Environment", name, { project: "shop", target: "local", ...spec })),
    ].join("---\n"),
    ...Object.fromEntries(Object.entries(services).map(([name, spec]) => [`services/${name}.yaml`, manifest("Service", name, { project: "shop", ...spec })])),
    ...files,
  };
}
