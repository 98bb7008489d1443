import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { Agent } from "node:http";
import { homedir } from "node:os";
import { inspect } from "node:util";
import type { Duplex } from "node:stream";
import { Client, type ConnectConfig } from "ssh2";

/** How to reach one remote engine. */
export interface SshTarget {
  /** DeploymentTarget name, for messages. */
  target: string;
  host: string;
  port: number;
  user: string;
  /** Private key file; without it the ssh-agent at `agentSocket` is used. */
  identityFile?: string;
  passphrase?: string;
  agentSocket?: string;
  /** The host's public key line, or its `SHA256:` fingerprint. */
  hostKey: string;
  remoteSocket: string;
}

/** The host presented another key than the manifest pins: the connection is refused. */
export class HostKeyMismatchError extends Error {
  constructor(target: string, host: string, expected: string, presented: string) {
    super(`DeploymentTarget/${target}: host key of ${host} does not match: expected ${expected}, presented ${presented}; refusing to connect. If the host was re-keyed on purpose, check its key out of band (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the host) before setting spec.ssh.hostKey to it`);
    this.name = "HostKeyMismatchError";
  }
}

export class SshConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SshConnectError";
  }
}

/** `SHA256:<base64, unpadded>` of a raw public key blob, as `ssh-keygen -l` prints it. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The fingerprint a `hostKey` setting names: given as one, or computed from a public key line. */
export function expectedFingerprint(hostKey: string): string {
  if (hostKey.startsWith("SHA256:")) return hostKey.replace(/=+$/, "");
  const blob = hostKey.trim().split(/\s+/)[1] ?? "";
  return fingerprintOf(Buffer.from(blob, "base64"));
}

/** Channels to the Docker socket held at once (the event stream keeps one), and to containers for probes: together under sshd's default MaxSessions of 10. */
const AGENT_CHANNELS = 7;
const PROBE_CHANNELS = 2;
/** How long opening one channel may take before the call fails. */
const CHANNEL_TIMEOUT_MS = 10_000;

const expandHome = (path: string) => (path === "~" || path.startsWith("~/") ? `${homedir()}${path.slice(1)}` : path);

/**
 * One SSH connection per target, opened when first needed and reused by every
 * call; a dropped connection is opened again by the next call. The remote
 * Docker socket is reached with `openssh_forwardOutStreamLocal`, container
 * ports with `forwardOut`: nothing but sshd is needed on the host.
 */
export class SshTunnel {
  private ready?: Promise<Client>;
  /** The client connected, or still connecting: close() ends either. */
  private client?: Client;
  private closed = false;
  private probeChannels = 0;
  /** Open channels per client: when a connection dies they are destroyed, so no caller waits on a dead stream. */
  private readonly channels = new Map<Client, Set<Duplex>>();
  /** After a failed connect, calls fail fast until this time, so probes do not hammer a host that is down. */
  private retryAt = 0;
  private lastError?: Error;
  private backoffMs = 0;

  constructor(private readonly options: SshTarget) {}

  /** The connected client, connecting when there is none. */
  connection(): Promise<Client> {
    if (this.closed) return Promise.reject(new SshConnectError(`DeploymentTarget/${this.options.target}: connection closed`));
    if (!this.ready && this.lastError && Date.now() < this.retryAt) return Promise.reject(this.lastError);
    if (!this.ready) {
      const attempt = this.open();
      this.ready = attempt;
      // A failed attempt is never kept: the next call (after the fail-fast window) dials again, with the key file as it is then.
      attempt.catch(() => {
        if (this.ready === attempt) this.ready = undefined;
      });
    }
    return this.ready;
  }

  /**
   * An http.Agent whose sockets are streams to the remote Docker socket.
   * sshd refuses channels beyond its MaxSessions (10 by default): requests
   * beyond AGENT_CHANNELS queue here instead. A channel serves one request:
 * none outlives the connection it belongs to.
   */
  agent(): Agent {
    const agent = new Agent({ keepAlive: false, maxSockets: AGENT_CHANNELS });
    const create = (_options: unknown, callback: (error: Error | null, socket?: Duplex) => void) => {
      this.channel((client, done) => client.openssh_forwardOutStreamLocal(this.options.remoteSocket, done), `the Docker socket ${this.options.remoteSocket}`).then(
        (stream) => callback(null, stream),
        (error: Error) => callback(error),
      );
      return undefined;
    };
    (agent as unknown as { createConnection: typeof create }).createConnection = create;
    // docker-modem util.inspect()s every request's options (agent included, hidden fields, unbounded depth)
    // before checking whether debug output is on; through the agent that would walk the whole SSH client per call.
    Object.defineProperty(agent, inspect.custom, { value: () => `[ssh agent for DeploymentTarget/${this.options.target}]` });
    return agent;
  }

  /** Opens a TCP stream to host:port as seen from the remote host (a container's address); at most PROBE_CHANNELS at once. */
  readonly dial = async (host: string, port: number, timeoutMs: number): Promise<Duplex> => {
    const deadline = Date.now() + timeoutMs;
    while (this.probeChannels >= PROBE_CHANNELS) {
      if (Date.now() > deadline) throw new Error(`connect to ${host}:${port} through ${this.options.host} timed out after ${timeoutMs} ms waiting for a free channel`);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.probeChannels++;
    try {
      const stream = await this.channel((client, done) => client.forwardOut("127.0.0.1", 0, host, port, done), `${host}:${port}`, Math.max(1, deadline - Date.now()));
      stream.once("close", () => this.probeChannels--);
      return stream;
    } catch (error) {
      this.probeChannels--;
      throw error;
    }
  };

  /** Closes the connection for good. */
  close(): void {
    this.closed = true;
    this.client?.end();
  }

  /** Opens one channel, bounded in time: a connection gone silent fails calls in seconds, not when keepalive gives up. */
  private async channel(open: (client: Client, done: (error: Error | undefined, stream: Duplex) => void) => void, what: string, timeoutMs = CHANNEL_TIMEOUT_MS): Promise<Duplex> {
    const { target, host } = this.options;
    const client = await this.connection();
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new SshConnectError(`DeploymentTarget/${target}: no channel to ${what} on ${host} within ${timeoutMs} ms; the connection may be gone silent`));
      }, timeoutMs);
      open(client, (error, stream) => {
        clearTimeout(timer);
        if (settled) return void stream?.destroy(); // too late: nobody will read it
        settled = true;
        if (!error) {
          const open = this.channels.get(client) ?? new Set<Duplex>();
          this.channels.set(client, open.add(stream));
          stream.once("close", () => open.delete(stream));
          return resolve(asSocket(stream));
        }
        const prohibited = /prohibited/i.test(error.message) ? "; sshd forbids forwarding: expected AllowStreamLocalForwarding and AllowTcpForwarding yes (and no DisableForwarding) for this user" : "; expected it to exist and the user allowed to use it";
        reject(new SshConnectError(`DeploymentTarget/${target}: cannot reach ${what} on ${host}: ${error.message}${prohibited}`, { cause: error }));
      });
    });
  }

  private open(): Promise<Client> {
    const { target, host, port, user } = this.options;
    const expected = expectedFingerprint(this.options.hostKey);
    let mismatch: HostKeyMismatchError | undefined;
    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      this.client = client;
      let connected = false;
      let failed = false;
      const fail = (error: Error) => {
        if (failed) return;
        failed = true;
        if (this.client === client) this.client = undefined;
        this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 1_000), 10_000);
        this.retryAt = Date.now() + this.backoffMs;
        this.lastError = error;
        reject(error);
      };
      client.once("ready", () => {
        if (this.closed) {
          client.end();
          return fail(new SshConnectError(`DeploymentTarget/${target}: connection closed`));
        }
        connected = true;
        client.setNoDelay(true);
        this.backoffMs = 0;
        this.lastError = undefined;
        resolve(client);
      });
      client.on("error", (error) => fail(mismatch ?? new SshConnectError(`DeploymentTarget/${target}: ${describeSshError(error, user, host, port)}`, { cause: error })));
      client.on("close", () => {
        if (!connected) return fail(mismatch ?? new SshConnectError(`DeploymentTarget/${target}: ssh ${user}@${host}:${port}: connection closed before it was ready`));
        for (const stream of this.channels.get(client) ?? []) stream.destroy(new SshConnectError(`DeploymentTarget/${target}: connection to ${host} lost`));
        this.channels.delete(client);
        if (this.client === client) this.client = undefined;
        // The connection this promise resolved to is gone: the next call opens another.
        if (this.ready && this.client === undefined) this.ready = undefined;
      });
      try {
        client.connect({
          host,
          port,
          username: user,
          readyTimeout: 10_000,
          keepaliveInterval: 10_000,
          keepaliveCountMax: 3,
          // A pinned key line also pins its algorithm, so the host is asked for that key, not another it holds.
          ...(hostKeyAlgorithms(this.options.hostKey) ? { algorithms: { serverHostKey: hostKeyAlgorithms(this.options.hostKey) } } : {}),
          hostVerifier: (key: Buffer) => {
            const presented = fingerprintOf(key);
            if (presented === expected) return true;
            mismatch = new HostKeyMismatchError(target, host, expected, presented);
            return false;
          },
          ...this.credentials(),
        } as ConnectConfig);
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        const encrypted = this.options.passphrase === undefined ? "; if the key is encrypted, name the variable holding its passphrase in spec.ssh.passphraseFromEnv and set it in the daemon's environment" : "";
        const file = this.options.identityFile ? `identity file ${this.options.identityFile} cannot be used (${why}); check spec.ssh.identityFile${encrypted}` : `${why}${encrypted}`;
        fail(error instanceof SshConnectError ? error : new SshConnectError(`DeploymentTarget/${target}: ${file}`, { cause: error }));
      }
    });
  }

  private credentials(): Partial<ConnectConfig> {
    const { target, identityFile, passphrase, agentSocket } = this.options;
    if (identityFile) {
      let privateKey: Buffer;
      try {
        privateKey = readFileSync(expandHome(identityFile));
      } catch (error) {
        throw new SshConnectError(`DeploymentTarget/${target}: cannot read identity file ${identityFile}: ${error instanceof Error ? error.message : error}`, { cause: error });
      }
      const loose = identityFileRefusal(expandHome(identityFile));
      if (loose) throw new SshConnectError(`DeploymentTarget/${target}: ${loose}`);
      return { privateKey, passphrase };
    }
    if (!agentSocket) throw new SshConnectError(`DeploymentTarget/${target}: no identityFile and no ssh-agent (SSH_AUTH_SOCK is unset); expected spec.ssh.identityFile, e.g. ~/.ssh/id_ed25519`);
    return { agent: agentSocket };
  }
}

/**
 * Why a private key file must not be used: OpenSSH's rule, a key that others than its owner can read
 * or write (any group or other bit) is refused, as `ssh` refuses an "UNPROTECTED PRIVATE KEY FILE".
 * Checked at every connect, so a chmod takes effect without a restart.
 */
export function identityFileRefusal(path: string): string | undefined {
  if (process.platform === "win32") return undefined;
  const mode = statSync(path).mode & 0o777;
  if (!(mode & 0o077)) return undefined;
  const octal = mode.toString(8).padStart(4, "0");
  return `identity file ${path} has mode ${octal}: its group or other users have access to it, so it is refused (as ssh refuses an unprotected private key); expected only its owner to read it, e.g. chmod 600 ${path}`;
}

/** What failed, and what to do, for each way an SSH connection fails. */
function describeSshError(error: Error & { code?: string; level?: string }, user: string, host: string, port: number): string {
  if (/authentication methods failed/i.test(error.message)) return `authentication failed for ${user}@${host} (publickey): check spec.ssh.identityFile, and that its public key is in ~${user}/.ssh/authorized_keys on the host`;
  if (error.code === "ECONNREFUSED") return `ssh ${user}@${host}:${port}: connection refused: nothing listens there; check spec.ssh.host and spec.ssh.port, and that sshd runs`;
  if (error.code === "ENOTFOUND" || error.code === "EAI_AGAIN") return `ssh ${user}@${host}:${port}: host name ${host} does not resolve; check spec.ssh.host`;
  if (error.code === "ETIMEDOUT" || /timed out/i.test(error.message)) return `ssh ${user}@${host}:${port}: no answer in time (${error.message}); check that the host is up and a firewall lets port ${port} through`;
  return `ssh ${user}@${host}:${port}: ${error.message}`;
}

/** ssh2 algorithm names for a pinned key line's type; undefined for a bare fingerprint (any type may match). */
function hostKeyAlgorithms(hostKey: string): string[] | undefined {
  if (hostKey.startsWith("SHA256:")) return undefined;
  const type = hostKey.trim().split(/\s+/)[0]!;
  return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
}

/** ssh2 channels lack the socket methods Node's http client may call. */
function asSocket(stream: Duplex): Duplex {
  const socket = stream as Duplex & Record<string, unknown>;
  for (const method of ["setTimeout", "setNoDelay", "setKeepAlive", "ref", "unref"]) {
    if (typeof socket[method] !== "function") socket[method] = () => socket;
  }
  return socket;
}
