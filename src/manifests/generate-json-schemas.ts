/**
 * Writes crds/json/<kind>.schema.json from the CRDs, for editors running
 * yaml-language-server. Run with `npm run crds:json`; a unit test fails when
 * the committed files are stale.
 */
import { writeFileSync } from "node:fs";
import { CRD_DIR, loadJsonSchemas } from "./crd-schema.ts";
import { KINDS } from "./kinds.ts";

/** Serialised JSON Schema file content for every kind, keyed by file name. */
export function renderJsonSchemaFiles(): Record<string, string> {
  const schemas = loadJsonSchemas();
  return Object.fromEntries(
    KINDS.map((kind) => [`${kind.toLowerCase()}.schema.json`, `${JSON.stringify(schemas[kind], null, 2)}\n`]),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, content] of Object.entries(renderJsonSchemaFiles())) {
    writeFileSync(`${CRD_DIR}/json/${name}`, content);
    console.log(`wrote crds/json/${name}`);
  }
}
