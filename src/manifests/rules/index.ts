import type { ManifestError } from "../errors.ts";
import type { Catalog, Rule } from "./catalog.ts";
import { healthyDependenciesHaveChecks, noDependencyCycles } from "./dependencies.ts";
import { generatedNamesAreUnique } from "./names.ts";
import { hostPortsAreFree } from "./ports.ts";
import { referencesExist } from "./references.ts";
import { healthIntervalCoversTimeout, projectsAreComplete, targetsMatchTheirType, volumesAreWellFormed } from "./shape.ts";

export { buildCatalog, type Catalog } from "./catalog.ts";

/** Cross-resource rules, run after every document passed its schema. */
export const RULES: readonly Rule[] = [
  referencesExist,
  targetsMatchTheirType,
  projectsAreComplete,
  noDependencyCycles,
  healthyDependenciesHaveChecks,
  healthIntervalCoversTimeout,
  volumesAreWellFormed,
  hostPortsAreFree,
  generatedNamesAreUnique,
];

/** Runs every cross-resource rule and returns all problems. */
export function checkRules(catalog: Catalog): ManifestError[] {
  return RULES.flatMap((rule) => rule(catalog));
}
