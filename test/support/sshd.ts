import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./processes.ts";

/** A real sshd on 127.0.0.1 with its own host key and one authorized user key. */
export interface TestSshd {
  port: number;
  user: string;
  /** Private key the user logs in with. */
  identityFile: string;
  /** `SHA256:…` of the host key. */
  fingerprint: string;
  /** The host's public key line. */
  hostKeyLine: string;
  /** Kills sshd and every session it forked, as a host going down would. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same keys. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export class TestSshdError extends Error {
  constructor(message: string) {
    super(`SSH integration tests need a real sshd: ${message}`);
    this.name = "TestSshdError";
  }
}

/** Every descendant of a process, from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

async function listening(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new TestSshdError(`sshd did not listen on 127.0.0.1:${port} in time`);
}

/** Generates keys and starts sshd (-D) on a free loopback port; fails loudly without openssh-server. */
export async function startTestSshd(): Promise<TestSshd> {
  const sshd = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"].find((p) => existsSync(p));
  if (!sshd) throw new TestSshdError("sshd not found; install Debian's openssh-server (apt-get install openssh-server)");
  const dir = mkdtempSync("/tmp/berth-sshd-");
  const keygen = (file: string) => execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, file)]);
  keygen("host_key");
  keygen("user_key");
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "user_key.pub")));
  const fingerprint = execFileSync("ssh-keygen", ["-l", "-f", join(dir, "host_key.pub")], { encoding: "utf8" }).split(" ")[1]!;
  const port = await freePort();
  const user = userInfo().username;
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_key")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "AllowTcpForwarding yes",
      "AllowStreamLocalForwarding yes",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  // Privilege separation needs this directory; Debian creates it only when its service starts.
  mkdirSync("/run/sshd", { recursive: true });
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(sshd, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    try {
      await listening(port, Date.now() + 10_000);
    } catch (error) {
      throw new TestSshdError(`${(error as Error).message}; sshd said: ${stderr.trim() || "nothing"}`);
    }
  };
  const kill = async () => {
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    for (const pid of [...descendants(child.pid), child.pid]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await exited;
  };
  await start();
  return {
    port,
    user,
    identityFile: join(dir, "user_key"),
    fingerprint,
    hostKeyLine: readFileSync(join(dir, "host_key.pub"), "utf8").trim(),
    kill,
    restart: start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
