import { describe, expect, it } from "vitest";
import { parseManifestFile } from "../../../src/manifests/parse.ts";
import { SchemaValidator } from "../../../src/manifests/schema-validator.ts";

describe("SOPS files among the manifests", () => {
  const validator = new SchemaValidator();

  it("skips a document sops wrote, and still checks every other document", () => {
    const sops = "password: ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]\nsops:\n  mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n  version: 3.9.0\n";
    expect(parseManifestFile("secrets.yaml", sops, validator)).toMatchObject({ resources: [], errors: [] });
  });

  it("still reports a document with a sops key that is not what sops writes", () => {
    const notSops = "sops: {version: 1}\npassword: x\n";
    expect(parseManifestFile("odd.yaml", notSops, validator).errors.map((e) => e.message)[0]).toContain(`missing "apiVersion"`);
  });
});
