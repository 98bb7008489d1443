import { readFileSync, statSync, writeFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import { AgeKeyring, SopsKeyPendingError } from "../../../src/secrets/age-keys.ts";
import { ageStanzas, encryptTree } from "../../../src/secrets/sops.ts";
import { parseTree, storeOf } from "../../../src/secrets/sops-document.ts";
import { cliRunner } from "../../support/cli.ts";
import { openEnvFile } from "../../support/sops.ts";
import { createManifestDir } from "../../support/manifest-dir.ts";

const dir = createManifestDir();
afterAll(() => dir.cleanup());
const berth = cliRunner({});

const identity = await generateIdentity();
const recipient = await identityToRecipient(identity);
const keyFile = dir.write("age.key", `${identity}\n`);
const keys = new AgeKeyring({ file: keyFile, origin: "--age-key-file" });
const open = (text: string, name: string) => openEnvFile(keys, text, name);
const PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj==\n-----END PRIVATE KEY-----";
const PLAIN_ENV = `# db\nDB_USER=app\nDB_KEY="${PEM}"\nDB_PASSWORD=hunter2 # the password\n`;

describe("the format follows sops: by name when writing, by content when reading", () => {
  it.each([
    ["db.env", "dotenv"], ["db.yaml", "yaml"], ["db.yml", "yaml"], ["db.json", "json"],
    ["db.secret", "binary"], [".env.production", "binary"], ["db.ENV", "binary"], ["db.ini", "ini"],
  ])("%s -> %s", (name, store) => expect(storeOf(name)).toBe(store));

  it.each(["db.secret", ".env.production", "secrets/prod"])("berth secrets encrypt %s writes sops' binary format, and the env reader reads it as the plain file", async (name) => {
    const file = dir.write(name, PLAIN_ENV);
    const result = await berth("secrets", "encrypt", file, "--age", recipient, "--in-place");
    expect(result.code, result.out).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(Object.keys(JSON.parse(text) as object)).toEqual(["data", "sops"]);
    expect(text).not.toContain("hunter2");
    expect(await open(text, file)).toEqual(parseEnv(PLAIN_ENV));
  });

  it("berth secrets decrypt of a binary file gives back the file as it was", async () => {
    const file = dir.write("back.secret", PLAIN_ENV);
    expect((await berth("secrets", "encrypt", file, "--age", recipient, "--in-place")).code).toBe(0);
    const result = await berth("secrets", "decrypt", file, "--age-key-file", keyFile, "--stdout");
    expect(result.stdout).toBe(PLAIN_ENV);
  });

  it("a SOPS dotenv file under a name sops reads as binary is still decrypted, never read as plain dotenv", async () => {
    const text = await encryptTree(parseTree("DB_PASSWORD=hunter2\n", "dotenv"), [recipient]);
    expect(await open(text, "/srv/app/.env.production")).toEqual({ DB_PASSWORD: "hunter2" });
    const yaml = await encryptTree(parseTree("DB_PASSWORD: hunter2\n", "yaml"), [recipient]);
    expect(await open(yaml, "/srv/app/db.secret")).toEqual({ DB_PASSWORD: "hunter2" });
  });

  it.each([
    { name: "YAML", file: "db.yaml", text: "DB_PASSWORD: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\nsops:\n    version: 3.13.1\n" },
    { name: "JSON", file: "db.json", text: '{"DB_PASSWORD": "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]", "sops": {"mac": 1}}\n' },
    { name: "dotenv", file: "db.env", text: "DB_PASSWORD=ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\nsops_version=3.13.1\n" },
    { name: "YAML, an empty sops key", file: "db.yaml", text: "DB_PASSWORD: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\nsops:\n" },
    { name: "dotenv, a stray sops_ line", file: "db.env", text: "DB_PASSWORD=ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\nsops_age__list_0__map_recipient=age1x\n" },
    { name: "binary", file: "db.secret", text: '{"data": "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]", "sops": {"version": "3.13.1"}}\n' },
  ])("$name: a sops section without a MAC is an error, not a plain file", async ({ file, text }) => {
    await expect(open(text, file)).rejects.toThrow(/has a sops section but no MAC/);
  });

  it("a plain dotenv file is still left to the plain reader, whatever its name", async () => {
    expect(await open("A=1\n", ".env.production")).toBeUndefined();
    expect(await open("A=1\n", "db.secret")).toBeUndefined();
  });
});

describe("berth secrets encrypt of a plain env file", () => {
  it("a multi-line quoted PEM in a .env file: encrypted as sops' dotenv holds it (one line, \\n), with the values the plain reader reads", async () => {
    const file = dir.write("pem.env", PLAIN_ENV);
    const result = await berth("secrets", "encrypt", file, "--age", recipient, "-o", dir.write("pem.enc.env", ""));
    expect(result.code, result.out).toBe(0);
    const text = readFileSync(`${dir.dir}/pem.enc.env`, "utf8");
    expect(text.split("\n").filter((l) => l.startsWith("DB_"))).toHaveLength(3);
    expect(await open(text, "pem.enc.env")).toEqual({ DB_USER: "app", DB_KEY: PEM, DB_PASSWORD: "hunter2" });
  });

  it("a value sops' dotenv cannot hold (a literal backslash-n) is refused by line number, without its text", async () => {
    const file = dir.write("escape.env", "A=1\nTOKEN=abc\\nsecretpart\n");
    const result = await berth("secrets", "encrypt", file, "--age", recipient);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/line 2: the value of TOKEN holds a backslash followed by n.*binary format/);
    expect(result.out).not.toContain("secretpart");
  });

  it.each([
    { from: "db.yaml", to: "db.env", want: /sops reads .*db\.yaml as yaml and .*db\.env as dotenv/ },
    { from: "db.env", to: "db.ini", want: /INI format, which Berth does not write/ },
  ])("$from -o $to -> refused", async ({ from, to, want }) => {
    const file = dir.write(from, from.endsWith(".yaml") ? "A: 1\n" : "A=1\n");
    const result = await berth("secrets", "encrypt", file, "--age", recipient, "-o", `${dir.dir}/${to}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(want);
  });
});

describe("berth secrets decrypt -o", () => {
  it("over an existing world-readable file leaves it mode 0600", async () => {
    const file = dir.write("mode.env", await encryptTree(parseTree("DB_PASSWORD=hunter2\n", "dotenv"), [recipient]));
    const out = dir.write("mode.clear.env", "old\n");
    writeFileSync(out, "old\n", { mode: 0o644 });
    const result = await berth("secrets", "decrypt", file, "--age-key-file", keyFile, "-o", out);
    expect(result.code, result.out).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("DB_PASSWORD=hunter2\n");
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });
});

describe("the data key cache", () => {
  it("a build that needs more keys than the cache holds still completes (its own keys are never evicted)", async () => {
    const small = new AgeKeyring({ file: keyFile, origin: "--age-key-file" }, undefined, 2);
    const stanzas = await Promise.all([1, 2, 3].map(async (i) => ageStanzas(parseTree(await encryptTree(parseTree(`A=${i}\n`, "dotenv"), [recipient]), "dotenv"))));
    // As a model build: every file is tried, and the build waits if any key was pending.
    const build = () => {
      const pending = stanzas.filter((s) => {
        try {
          return void small.dataKey(s), false;
        } catch (error) {
          if (error instanceof SopsKeyPendingError) return true;
          throw error;
        }
      });
      if (pending.length) throw new SopsKeyPendingError();
    };
    let builds = 0;
    for (;;) {
      builds++;
      try {
        build();
        break;
      } catch (error) {
        if (!(error instanceof SopsKeyPendingError) || builds > 5) throw error;
        await small.settled();
      }
    }
    expect(builds).toBe(2);
    // Keys not asked for in this round or the one before go once the cache is over its bound.
    const more = await Promise.all([4, 5, 6, 7].map(async (i) => ageStanzas(parseTree(await encryptTree(parseTree(`B=${i}\n`, "dotenv"), [recipient]), "dotenv"))));
    for (const s of more.slice(0, 3)) expect(() => small.dataKey(s)).toThrow(SopsKeyPendingError);
    await small.settled();
    expect(small.size).toBe(6); // nothing evictable: all asked for in this round or the one before
    expect(() => small.dataKey(more[3]!)).toThrow(SopsKeyPendingError);
    await small.settled();
    expect(small.size).toBe(2);
  });
});
