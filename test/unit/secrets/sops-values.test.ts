import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { armor, Decrypter, generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import { AgeKeyring } from "../../../src/secrets/age-keys.ts";
import { goRegExp } from "../../../src/secrets/go-regexp.ts";
import { decryptTree, encryptTree } from "../../../src/secrets/sops.ts";
import { parseTree, type SopsFormat } from "../../../src/secrets/sops-document.ts";
import { openEnvFile } from "../../support/sops.ts";
import { createManifestDir } from "../../support/manifest-dir.ts";

const FIXTURES = new URL("../../fixtures/sops/", import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), "utf8");
const dataKeys = JSON.parse(fixture("data-keys.json")) as Record<string, string>;
const dir = createManifestDir();
afterAll(() => dir.cleanup());

const identity = await generateIdentity();
const recipient = await identityToRecipient(identity);
const keys = new AgeKeyring({ file: dir.write("age.key", `${identity}\n`), origin: "--age-key-file" });
const open = (text: string, name: string) => openEnvFile(keys, text, name);
const encrypted = async (text: string, format: SopsFormat) => encryptTree(parseTree(text, format), [recipient]);

/** One `ENC[…]` value as sops' aes/cipher.go builds it: AES-256-GCM, 32-byte nonce, the path plus ":" as additional data. */
function sopsValue(key: Buffer, text: string, aad: string, type: string): string {
  const iv = randomBytes(32);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${cipher.getAuthTag().toString("base64")},type:${type}]`;
}
const clearOf = (key: Buffer, value: string, aad: string) => {
  const [, data, iv, tag] = /data:(.*?),iv:(.*?),tag:(.*?),/.exec(value)!;
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv!, "base64"));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(tag!, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(data!, "base64")), decipher.final()]).toString("utf8");
};

describe("decrypted dotenv values are sops' values (literal, \\n a line break, the last of a name wins)", () => {
  it.each([
    { name: "a # inside a value", line: "A=abc#def", want: { A: "abc#def" } },
    { name: "spaces around a value", line: "C=  sp  ", want: { C: "  sp  " } },
    { name: "an unbalanced quote", line: 'E="open\nF=tail', want: { E: '"open', F: "tail" } },
    { name: "quotes kept", line: "Q='single'", want: { Q: "'single'" } },
    { name: "\\n escapes", line: "K=one\\ntwo", want: { K: "one\ntwo" } },
    { name: "a duplicate name", line: "D=first\nD=second", want: { D: "second" } },
  ])("$name", async ({ line, want }) => {
    expect(await open(await encrypted(`${line}\n`, "dotenv"), "app.env")).toEqual(want);
  });
});

describe("numbers keep their text (no JS double in between)", () => {
  it("a sops-built YAML file with a 19-digit int: its MAC verifies and the value is exact", async () => {
    const key = randomBytes(32);
    const id = "1234567890123456789";
    const lastmodified = "2026-05-22T20:16:23Z";
    const mac = createHash("sha512").update(id).update("5432").digest("hex").toUpperCase();
    const text = [
      `CHANNEL_ID: ${sopsValue(key, id, "CHANNEL_ID:", "int")}`,
      "PORT_unencrypted: 5432",
      "sops:",
      `    lastmodified: "${lastmodified}"`,
      `    mac: ${sopsValue(key, mac, lastmodified, "str")}`,
      "    unencrypted_suffix: _unencrypted",
      "    version: 3.13.1",
      "",
    ].join("\n");
    const tree = parseTree(text, "yaml");
    decryptTree(tree, key);
    expect(tree.leaves.map((l) => String(l.value))).toEqual([id, "5432"]);
    expect(tree.emit()).toContain(`CHANNEL_ID: ${id}\n`);
  });

  it.each([
    { format: "yaml" as const, name: "db.yaml", text: "CHANNEL_ID: 1234567890123456789\nRATIO: 0.25\nPIN: \"0123\"\n" },
    { format: "json" as const, name: "db.json", text: '{"CHANNEL_ID": 1234567890123456789, "RATIO": 0.25, "PIN": "0123"}\n' },
  ])("$format: encrypt writes the int as sops would (type int, exact digits) and it comes back exact", async ({ format, name, text }) => {
    const out = await encrypted(text, format);
    expect(out).toMatch(/CHANNEL_ID"?: "?ENC\[AES256_GCM,[^\]]*type:int\]/);
    expect(out).toMatch(/RATIO"?: "?ENC\[AES256_GCM,[^\]]*type:float\]/);
    expect(await open(out, name)).toEqual({ CHANNEL_ID: "1234567890123456789", RATIO: "0.25", PIN: "0123" });
    // The plain file reads the same.
    expect(await open(text, name)).toEqual({ CHANNEL_ID: "1234567890123456789", RATIO: "0.25", PIN: "0123" });
  });

  it("the encrypted int is the exact digits under AES (what sops' int type holds)", async () => {
    const out = await encrypted("ID: 9007199254740993\n", "yaml");
    const decrypter = new Decrypter();
    decrypter.addIdentity(identity);
    const stanza = parseTree(out, "yaml").metadata!.age as { enc: string }[];
    const key = Buffer.from(await decrypter.decrypt(armor.decode(stanza[0]!.enc)));
    expect(clearOf(key, /ID: (ENC\[.*\])/.exec(out)![1]!, "ID:")).toBe("9007199254740993");
  });

  it.each(["PIN: 0123", "N: 1_000", "N: +5", "N: 1.50", "N: 0x1F", "N: 99999999999999999999"])("%s: sops would store another number -> refused, value not quoted", async (line) => {
    const error = await encrypted(`${line}\n`, "yaml").catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/is a number that sops would not keep as written.*quote it/);
    expect((error as Error).message).not.toContain(line.split(": ")[1]!);
  });

  it("a real sops file's float (example.json, type:float) and bools (example.yaml) decrypt and verify", () => {
    for (const [name, format] of [["sops-example.enc.json", "json"], ["sops-example.enc.yaml", "yaml"]] as const) {
      const tree = parseTree(fixture(name), format);
      decryptTree(tree, Buffer.from(dataKeys[name]!, "hex"));
      const values = Object.fromEntries(tree.leaves.map((l) => [l.path.join(":"), String(l.value)]));
      expect(name.endsWith("json") ? values.age : values.number).toBe(name.endsWith("json") ? "25.4" : "1234568000");
    }
  });
});

describe("errors never quote a line", () => {
  it("a dotenv line without = is named by its number only", () => {
    const pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ";
    const error = (() => { try { parseTree(`KEY=${pem}\n`, "dotenv"); } catch (e) { return e as Error; } })();
    expect(error?.message).toMatch(/^line 2 has no "="/);
    expect(error?.message).not.toContain("b3BlbnNz");
  });
});

describe("Go regexes in encrypted_regex / unencrypted_regex", () => {
  it("a leading (?i) is the i flag", async () => {
    const key = Buffer.from(dataKeys["sops-pgp.enc.yaml"]!, "hex");
    const lastmodified = "2026-05-22T20:16:23Z";
    const mac = createHash("sha512").update("s3cr3t").update("plain").digest("hex").toUpperCase();
    const text = [
      `DB_PASSWORD: ${sopsValue(key, "s3cr3t", "DB_PASSWORD:", "str")}`,
      "MODE: plain",
      "sops:",
      `    lastmodified: "${lastmodified}"`,
      `    mac: ${sopsValue(key, mac, lastmodified, "str")}`,
      "    encrypted_regex: (?i)password",
      "    version: 3.13.1",
      "",
    ].join("\n");
    const tree = parseTree(text, "yaml");
    decryptTree(tree, key);
    expect(tree.leaves.map((l) => l.value)).toEqual(["s3cr3t", "plain"]);
  });

  it.each([
    { go: "(?i)^db_", matches: ["DB_X", "db_y"], not: ["xdb_"] },
    { go: "(?P<n>pass)word", matches: ["password"], not: ["pass"] },
    { go: "\\pLx", matches: ["ax"], not: ["1x"] },
    { go: "a\\#b", matches: ["a#b"], not: ["ab"] },
    { go: "[]a]", matches: ["]"], not: ["b"] },
  ])("$go translates", ({ go, matches, not }) => {
    const regex = goRegExp(go, "encrypted_regex");
    for (const m of matches) expect(regex.test(m), m).toBe(true);
    for (const m of not) expect(regex.test(m), m).toBe(false);
  });

  it.each([
    { go: "a(?i)b", where: "offset 1" },
    { go: "\\Apass", where: "offset 0" },
    { go: "x[[:alpha:]]", where: "offset 2" },
    { go: "(?U)a+", where: "offset 0" },
  ])("$go -> a located error naming the key", ({ go, where }) => {
    expect(() => goRegExp(go, "unencrypted_regex")).toThrow(new RegExp(`^sops\\.unencrypted_regex uses .* at ${where}, which is Go syntax`));
  });
});
