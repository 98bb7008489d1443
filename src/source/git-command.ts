import { execFile } from "node:child_process";

/** A git command that failed: what was asked, and git's own words (credentials in URLs removed). */
export class GitCommandError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "GitCommandError";
  }
}

/** `https://user:token@host/x` → `https://host/x`: what may be shown, logged and stored of a repository URL. */
export function publicUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, (_all, scheme: string) => (scheme.startsWith("ssh") ? _all : scheme));
}

/** Removes every credential-bearing URL's userinfo (not ssh user names) from a text git printed. */
export function scrubCredentials(text: string): string {
  return text.replace(/\b(https?:\/\/)[^@\s/]*@/gi, "$1");
}

export interface GitRunOptions {
  /** `--git-dir` for the command. */
  gitDir?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** `-c key=value` settings for this command only. */
  config?: Record<string, string>;
}

/**
 * Runs the system git, so ssh, credential helpers and signature tools work as
 * operators set them up. Never prompts: a missing credential fails at once.
 */
export function runGit(args: string[], options: GitRunOptions = {}): Promise<string> {
  const config = Object.entries(options.config ?? {}).flatMap(([key, value]) => ["-c", `${key}=${value}`]);
  const full = [...(options.gitDir ? [`--git-dir=${options.gitDir}`] : []), ...config, ...args];
  const env = { ...process.env, ...options.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "", SSH_ASKPASS: "", LC_ALL: "C" };
  return new Promise((resolve, reject) => {
    execFile("git", full, { env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const said = scrubCredentials(String(stderr).trim()).split("\n").slice(-4).join("; ");
      const why = (error as NodeJS.ErrnoException).code === "ENOENT" ? "git is not installed; expected the git binary on PATH (apt-get install git)" : said || error.message;
      reject(new GitCommandError(`git ${args[0]} failed: ${why}`, said, { cause: error }));
    });
  });
}
