import { main } from "../../src/cli/main.ts";

/** Runs the CLI in-process with `env` as its environment; `out` is stdout and stderr interleaved as printed. */
export function cliRunner(env: NodeJS.ProcessEnv = {}) {
  return async (...args: string[]) => {
    let stdout = "";
    let stderr = "";
    let out = "";
    const code = await main(["node", "berth", ...args], {
      stdout: (t) => void ((stdout += t), (out += t)),
      stderr: (t) => void ((stderr += t), (out += t)),
      env,
    });
    return { code, stdout, stderr, out };
  };
}
