import type { ManifestError } from "../errors.ts";
import { backupsAreWellFormed } from "./backups.ts";
import type { Catalog, Rule, WarningRule } from "./catalog.ts";
import { healthyDependenciesHaveChecks, noDependencyCycles } from "./dependencies.ts";
import { generatedNamesAreUnique } from "./names.ts";
import { receiversAreDistinct } from "./notifications.ts";
import { hostPortsAreFree } from "./ports.ts";
import { referencesExist } from "./references.ts";
import { registriesAreDistinct } from "./registries.ts";
import { secretLiteralsCanBeMasked } from "./secrets.ts";
import { healthIntervalCoversTimeout, projectsAreComplete, targetsMatchTheirType, volumeNamesAreMounted, volumesAreWellFormed } from "./shape.ts";
import { rollingUpdatesShareNoVolume } from "./strategy.ts";
import type { ManifestWarning } from "./warning.ts";

export { buildCatalog, type Catalog } from "./catalog.ts";
export { ManifestWarning } from "./warning.ts";

/** Cross-resource rules, run after every document passed its schema. */
export const RULES: readonly Rule[] = [
  referencesExist,
  targetsMatchTheirType,
  projectsAreComplete,
  noDependencyCycles,
  healthyDependenciesHaveChecks,
  healthIntervalCoversTimeout,
  volumesAreWellFormed,
  volumeNamesAreMounted,
  backupsAreWellFormed,
  hostPortsAreFree,
  generatedNamesAreUnique,
  registriesAreDistinct,
  receiversAreDistinct,
];

/** Runs every cross-resource rule and returns all problems. */
export function checkRules(catalog: Catalog): ManifestError[] {
  return RULES.flatMap((rule) => rule(catalog));
}

/** Rules that warn about what is allowed but probably not meant; they never reject a file. */
export const WARNING_RULES: readonly WarningRule[] = [rollingUpdatesShareNoVolume, secretLiteralsCanBeMasked];

/** Runs every warning rule and returns all warnings. */
export function checkWarnings(catalog: Catalog): ManifestWarning[] {
  return WARNING_RULES.flatMap((rule) => rule(catalog));
}
