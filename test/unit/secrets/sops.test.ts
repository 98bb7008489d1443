import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { armor, Decrypter, generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import { AgeKeyring } from "../../../src/secrets/age-keys.ts";
import { ageStanzas, decryptTree, encryptTree } from "../../../src/secrets/sops.ts";
import { parseTree, type SopsFormat } from "../../../src/secrets/sops-document.ts";
import { SopsEnvFiles } from "../../../src/secrets/sops-env.ts";
import { openEnvFile } from "../../support/sops.ts";
import { createManifestDir } from "../../support/manifest-dir.ts";

const FIXTURES = new URL("../../fixtures/sops/", import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), "utf8");
const dataKeys = JSON.parse(fixture("data-keys.json")) as Record<string, string>;
const dir = createManifestDir();
afterAll(() => dir.cleanup());

/** A keyring over a key file in the temp dir; `open` waits for the asynchronous unwrap as the manager does. */
const keyring = (identities: string[]) => new AgeKeyring({ file: dir.write(`keys-${Math.random()}.txt`, `# test\n${identities.join("\n")}\n`), origin: "--age-key-file" });
const open = (files: SopsEnvFiles, keys: AgeKeyring, text: string, name: string) => openEnvFile(keys, text, name, files);

describe("files the sops CLI wrote (its functional-test fixtures; data keys recovered with its test PGP key)", () => {
  it.each(["env", "json", "yaml"] as const)("format.enc.%s decrypts and its MAC verifies", (ext) => {
    const name = `sops-pgp.enc.${ext}`;
    const tree = parseTree(fixture(name), ({ env: "dotenv", json: "json", yaml: "yaml" } as const)[ext]);
    decryptTree(tree, Buffer.from(dataKeys[name]!, "hex"));
    // sops' dotenv is literal: the line "foo = bar" is key "foo " (also its additional data) and value " bar".
    expect(tree.leaves.map((l) => [l.path, l.value])).toEqual([ext === "env" ? [["foo "], " bar"] : [["foo"], "bar"]]);
  });

  it.each([
    { name: "a changed value", edit: (t: string) => t.replace(/data:XBV7/, "data:XBV8") , want: /changed or moved/ },
    { name: "a changed MAC", edit: (t: string) => t.replace(/sops_mac=ENC\[AES256_GCM,data:ev/, "sops_mac=ENC[AES256_GCM,data:eV"), want: /MAC does not decrypt/ },
    { name: "a changed lastmodified", edit: (t: string) => t.replace("20:15:29Z", "20:15:30Z"), want: /MAC does not decrypt/ },
    { name: "a renamed key (the value is bound to its path)", edit: (t: string) => t.replace("foo =", "bar ="), want: /changed or moved/ },
  ])("$name -> refused", ({ edit, want }) => {
    const tree = parseTree(edit(fixture("sops-pgp.enc.env")), "dotenv");
    expect(() => decryptTree(tree, Buffer.from(dataKeys["sops-pgp.enc.env"]!, "hex"))).toThrow(want);
  });

  it("the age layer: age-encryption reads the armored data key sops' age key source wrote", async () => {
    const decrypter = new Decrypter();
    decrypter.addIdentity(fixture("age-keysource.key").split("\n")[1]!);
    expect(await decrypter.decrypt(armor.decode(fixture("age-keysource.age")), "text")).toBe("data");
  });
});

const PLAIN: Record<SopsFormat, { name: string; text: string; env: Record<string, string> }> = {
  dotenv: { name: "db.env", text: "DB_PASSWORD=s3cr3t value\nPEM=line1\\nline2\nMODE_unencrypted=debug\n", env: { DB_PASSWORD: "s3cr3t value", PEM: "line1\nline2", MODE_unencrypted: "debug" } }, // sops' dotenv: \n is a line break
  yaml: { name: "db.yaml", text: "DB_PASSWORD: s3cr3t\nPORT: 5432\nDEBUG: true\nRATIO: 0.5\nMODE_unencrypted: debug\n", env: { DB_PASSWORD: "s3cr3t", PORT: "5432", DEBUG: "true", RATIO: "0.5", MODE_unencrypted: "debug" } },
  json: { name: "db.json", text: '{"DB_PASSWORD": "s3cr3t", "10": "numeric keys keep their place", "PORT": 5432}\n', env: { DB_PASSWORD: "s3cr3t", "10": "numeric keys keep their place", PORT: "5432" } },
};

describe("berth's own files: encrypt -> decrypt", async () => {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const other = await generateIdentity();

  it.each(Object.entries(PLAIN))("%s round trip: the clear values come back, no clear value is in the file", async (format, plain) => {
    const text = await encryptTree(parseTree(plain.text, format as SopsFormat), [recipient]);
    expect(text).not.toContain("s3cr3t");
    if (format !== "json") expect(text).toContain("_unencrypted: debug".replace(": ", format === "yaml" ? ": " : "=")); // stays readable
    const keys = keyring([identity]);
    expect(await open(new SopsEnvFiles(keys), keys, text, plain.name)).toEqual(plain.env);
  });

  it.each(Object.entries(PLAIN))("%s: the age CLI unwraps the data key berth wrote, and that key opens the values", async (format, plain) => {
    const text = await encryptTree(parseTree(plain.text, format as SopsFormat), [recipient]);
    const tree = parseTree(text, format as SopsFormat);
    const key = execFileSync("age", ["-d", "-i", dir.write(`cli-${format}.key`, `${identity}\n`)], { input: ageStanzas(tree)[0]!.enc });
    expect(key).toHaveLength(32);
    decryptTree(tree, key);
    expect(tree.leaves.find((l) => l.path[0] === "DB_PASSWORD")?.value).toMatch(/^s3cr3t/);
  });

  it("a wrong identity names the recipient it expected and where it looked", async () => {
    const text = await encryptTree(parseTree(PLAIN.dotenv.text, "dotenv"), [recipient]);
    const keys = keyring([other]);
    const error = await open(new SopsEnvFiles(keys), keys, text, "db.env").catch((e: Error) => e);
    expect((error as Error).message).toMatch(new RegExp(`^expected an age identity for recipient ${recipient} in --age-key-file /.*keys-.*\\.txt; it holds identities for age1`));
    expect((error as Error).message).not.toContain(identity);
  });

  it("any one of several recipients decrypts", async () => {
    const text = await encryptTree(parseTree(PLAIN.yaml.text, "yaml"), [await identityToRecipient(other), recipient]);
    const keys = keyring([identity]);
    expect(await open(new SopsEnvFiles(keys), keys, text, "db.yaml")).toEqual(PLAIN.yaml.env);
  });

  it("no key file configured -> says which flag and recipient are expected", async () => {
    const text = await encryptTree(parseTree(PLAIN.dotenv.text, "dotenv"), [recipient]);
    expect(() => new SopsEnvFiles(new AgeKeyring({ origin: "--age-key-file" })).open(text, "db.env")).toThrow(`expected an age identity for recipient ${recipient} in --age-key-file FILE`);
  });

  it.each([
    { name: "a clear value changed", edit: (t: string) => t.replace("MODE_unencrypted=debug", "MODE_unencrypted=trace"), want: /MAC mismatch/ },
    { name: "a line removed", edit: (t: string) => t.replace(/^PEM=.*\n/m, ""), want: /MAC mismatch/ },
    { name: "two values swapped", edit: (t: string) => { const [a, b] = [/^DB_PASSWORD=(.*)$/m.exec(t)![1]!, /^PEM=(.*)$/m.exec(t)![1]!]; return t.replace(a, "@A").replace(b, a).replace("@A", b); }, want: /changed or moved/ },
  ])("tampered: $name -> refused", async ({ edit, want }) => {
    const text = edit(await encryptTree(parseTree(PLAIN.dotenv.text, "dotenv"), [recipient]));
    const keys = keyring([identity]);
    await expect(open(new SopsEnvFiles(keys), keys, text, "db.env")).rejects.toThrow(want);
  });

  it("a plain dotenv file is left to the plain reader", () => {
    expect(new SopsEnvFiles(new AgeKeyring({ origin: "--age-key-file" })).open("A=1\n", "a.env")).toBeUndefined();
  });
});
