/**
 * Keeps the generated parts of crds/ in step with the hand-written
 * v1alpha1 schemas: each CRD's v1beta1 version (the same schema with
 * v1beta1's value names) and crds/json/<kind>[.<version>].schema.json for
 * editors running yaml-language-server. Run with `npm run crds:json`; unit
 * tests fail when the committed files are stale.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Document } from "yaml";
import { CRD_DIR, jsonSchemaFile, loadJsonSchemas, readCrdSchema } from "./crd-schema.ts";
import { KINDS, type Kind } from "./kinds.ts";
import { API_VERSIONS, schemaOfVersion, V1ALPHA1, V1BETA1 } from "./versions.ts";

/** Serialised JSON Schema file content for every kind and version, keyed by file name. */
export function renderJsonSchemaFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const version of API_VERSIONS) {
    const schemas = loadJsonSchemas(CRD_DIR, version);
    for (const kind of KINDS) files[jsonSchemaFile(kind, version)] = `${JSON.stringify(schemas[kind], null, 2)}\n`;
  }
  return files;
}

/** Where the generated version begins in a CRD file: everything before it is written by hand. */
const GENERATED = "    # v1beta1: generated from v1alpha1 by npm run crds:json (the same schema, v1beta1's value names). Do not edit.\n";

/**
 * The CRD file of `kind` with its generated v1beta1 version: the
 * hand-written part (v1alpha1: served, the storage version, as Berth
 * reconciles that form; deprecated) kept byte for byte, then v1beta1.
 */
export function renderCrd(kind: Kind, text = readFileSync(`${CRD_DIR}/${kind.toLowerCase()}.yaml`, "utf8")): string {
  const written = text.includes(GENERATED) ? text.slice(0, text.indexOf(GENERATED)) : text;
  const beta = { name: "v1beta1", served: true, storage: false, schema: { openAPIV3Schema: schemaOfVersion(kind, readCrdSchema(kind, CRD_DIR, V1ALPHA1, written), V1BETA1) } };
  const item = new Document([beta]).toString({ lineWidth: 0, flowCollectionPadding: false });
  return `${written.endsWith("\n") ? written : `${written}\n`}${GENERATED}${item.replace(/^(?=.)/gm, "    ")}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const kind of KINDS) {
    const file = `${CRD_DIR}/${kind.toLowerCase()}.yaml`;
    writeFileSync(file, renderCrd(kind));
    console.log(`wrote crds/${kind.toLowerCase()}.yaml (v1beta1)`);
  }
  for (const [name, content] of Object.entries(renderJsonSchemaFiles())) {
    writeFileSync(`${CRD_DIR}/json/${name}`, content);
    console.log(`wrote crds/json/${name}`);
  }
}
