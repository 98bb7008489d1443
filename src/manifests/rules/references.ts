import type { ManifestError } from "../errors.ts";
import type { Kind } from "../kinds.ts";
import { PREFERRED_API_VERSION } from "../versions.ts";
import type { ParsedResource } from "../parse.ts";
import { closestMatch } from "../suggest.ts";
import type { FieldPath } from "../yaml-locator.ts";
import { declaredNames, problemAt, type Rule } from "./catalog.ts";

/** Every name a resource mentions must be declared: projects, targets, services. */
export const referencesExist: Rule = (catalog) => {
  const errors: ManifestError[] = [];
  const expect = (from: ParsedResource, path: FieldPath, kind: Kind, name: string, names: readonly string[], scope = "", target: "key" | "value" = "value") => {
    if (names.includes(name)) return;
    const guess = closestMatch(name, names);
    errors.push(
      problemAt(from, path, `${kind}/${name} does not exist${scope}${guess ? ` (did you mean "${guess}"?)` : ""}`, {
        expected: names.length ? `the name of a declared ${kind}: ${names.join(", ")}` : `a ${kind} named ${name} declared in the manifests`,
        example: names.length === 0
          ? `{apiVersion: ${PREFERRED_API_VERSION}, kind: ${kind}, metadata: {name: ${name}}}`
          : target === "key" ? `${guess ?? names[0]}: {replicas: 2}` : `${String(path.at(-1))}: ${guess ?? names[0]}`,
        target,
      }),
    );
  };

  for (const env of catalog.byKind.Environment.values()) {
    const { project, target, overrides } = env.resource.spec;
    expect(env, ["spec", "project"], "Project", project, declaredNames(catalog, "Project"));
    expect(env, ["spec", "target"], "DeploymentTarget", target, declaredNames(catalog, "DeploymentTarget"));
    const services = declaredNames(catalog, "Service", project);
    for (const name of Object.keys(overrides ?? {})) {
      expect(env, ["spec", "overrides", name], "Service", name, services, ` in Project/${project}`, "key");
    }
  }
  for (const service of catalog.byKind.Service.values()) {
    const { project, dependsOn } = service.resource.spec;
    expect(service, ["spec", "project"], "Project", project, declaredNames(catalog, "Project"));
    const services = declaredNames(catalog, "Service", project);
    dependsOn?.forEach((dependency, i) => {
      expect(service, ["spec", "dependsOn", i, "service"], "Service", dependency.service, services, ` in Project/${project}`);
    });
  }
  return errors;
};
