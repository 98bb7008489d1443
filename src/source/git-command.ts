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

/**
 * What may be shown, logged and stored of a repository URL: `https://user:token@host/x?t=1` → `https://host/x`;
 * an ssh user name stays (`ssh://git@host/x`), an ssh password does not.
 */
export function publicUrl(url: string): string {
  const withoutQuery = url.replace(/[?#].*$/, "");
  return withoutQuery.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_all, scheme: string, userinfo: string) => (scheme.startsWith("ssh") ? `${scheme}${userinfo.split(":")[0]}@` : scheme));
}

/** The password or token in a URL's userinfo, to be masked wherever text is shown; undefined without one. */
export function urlCredential(url: string): string | undefined {
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^@/]*)@/i.exec(url)?.[1];
  if (!userinfo) return undefined;
  const [user, password] = userinfo.split(":");
  // https://TOKEN@host: a lone user name is the credential (GitHub's x-access-token style).
  return password ? decodeURIComponent(password) : /^https?:/i.test(url) ? decodeURIComponent(user!) : undefined;
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
  /** Aborts the command (the daemon stopping). */
  signal?: AbortSignal;
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
    const timeoutMs = options.timeoutMs ?? 120_000;
    execFile("git", full, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: "utf8", signal: options.signal }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const said = scrubCredentials(String(stderr).trim()).split("\n").slice(-4).join("; ");
      // Never error.message: it holds the whole command line, URL credentials included.
      const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
      const why =
        failure.code === "ENOENT" ? "git is not installed; expected the git binary on PATH (apt-get install git)"
        : failure.name === "AbortError" ? "stopped"
        : said || (failure.killed ? `no answer within ${timeoutMs / 1000}s` : `git exited with ${failure.code ?? "an error"} and said nothing`);
      reject(new GitCommandError(`git ${args[0]} failed: ${why}`, said));
    });
  });
}
