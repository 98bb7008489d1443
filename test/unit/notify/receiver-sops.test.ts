import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import { ReceiverSecrets, type DeclaredReceiver } from "../../../src/notify/receivers.ts";
import { AgeKeyring } from "../../../src/secrets/age-keys.ts";
import { encryptTree } from "../../../src/secrets/sops.ts";
import { parseTree } from "../../../src/secrets/sops-document.ts";
import { createManifestDir } from "../../support/manifest-dir.ts";

const dir = createManifestDir();
afterAll(() => dir.cleanup());

const receiver: DeclaredReceiver = { id: "Project/shop#0", project: "shop", spec: { urlFrom: { envFile: "hooks.env", key: "HOOK_URL" }, signingSecretFrom: { envFile: "hooks.env", key: "HOOK_KEY" }, format: "json" }, where: "project.yaml:1:1" };

describe("receivers' SOPS-encrypted env files", () => {
  it("are decrypted in memory with the operator's age identities", async () => {
    const identity = await generateIdentity();
    dir.write("hooks.env", await encryptTree(parseTree("HOOK_URL=https://hooks.example.com/T0/abc\nHOOK_KEY=k3y-for-signing\n", "dotenv"), [await identityToRecipient(identity)]));
    const keys = new AgeKeyring({ file: dir.write("age.key", `${identity}\n`), origin: "--age-key-file" });
    const secrets = new ReceiverSecrets(dir.dir, {}, undefined, keys);
    expect(await secrets.resolveReady(receiver)).toEqual({ url: "https://hooks.example.com/T0/abc", signingSecret: "k3y-for-signing" });
  });

  it("say which identity is missing when the key file cannot open them", async () => {
    const other = await generateIdentity();
    const keys = new AgeKeyring({ file: dir.write("other.key", `${other}\n`), origin: "--age-key-file" });
    await expect(new ReceiverSecrets(dir.dir, {}, undefined, keys).resolveReady(receiver)).rejects.toThrow(/Project\/shop#0: urlFrom: .*age/);
  });
});
