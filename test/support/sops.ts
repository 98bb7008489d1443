import { AgeKeyring, SopsKeyPendingError } from "../../src/secrets/age-keys.ts";
import { SopsEnvFiles } from "../../src/secrets/sops-env.ts";

/** Opens an env file as the model build does, waiting once for a data key being unwrapped (age is asynchronous). */
export async function openEnvFile(keys: AgeKeyring, text: string, name: string, files = new SopsEnvFiles(keys)): Promise<Record<string, string> | undefined> {
  try {
    return files.open(text, name);
  } catch (error) {
    if (!(error instanceof SopsKeyPendingError)) throw error;
    await keys.settled();
    return files.open(text, name);
  }
}
