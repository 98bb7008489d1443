import type { ParsedResource } from "../parse.ts";
import type { EnvVar } from "../types.ts";
import type { FieldPath } from "../yaml-locator.ts";
import { warningAt, type WarningRule } from "./catalog.ts";
import type { ManifestWarning } from "./warning.ts";

/** Secret values shorter than this are too short to mask safely in logs: they match ordinary text. */
export const MIN_SECRET_LENGTH = 6;

/** A secret written into a manifest should be long enough to be masked; the message names the variable, never the value. */
export const secretLiteralsCanBeMasked: WarningRule = (catalog) => {
  const warnings: ManifestWarning[] = [];
  const check = (parsed: ParsedResource, env: EnvVar[] | undefined, at: FieldPath) =>
    env?.forEach((variable, i) => {
      if (!variable.secret || variable.value === undefined || variable.value.length >= MIN_SECRET_LENGTH) return;
      warnings.push(
        warningAt(parsed, [...at, i, "value"], `secret env ${variable.name} is shorter than ${MIN_SECRET_LENGTH} characters, too short to mask safely in logs`, {
          expected: `a secret value of at least ${MIN_SECRET_LENGTH} characters, or secret: false if it is not a secret`,
        }),
      );
    });
  for (const service of catalog.byKind.Service.values()) check(service, service.resource.spec.env, ["spec", "env"]);
  for (const environment of catalog.byKind.Environment.values()) {
    for (const [name, override] of Object.entries(environment.resource.spec.overrides ?? {})) {
      check(environment, override.env, ["spec", "overrides", name, "env"]);
    }
  }
  return warnings;
};
