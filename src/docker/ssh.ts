import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent } from "node:http";
import { homedir } from "node:os";
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
    super(`DeploymentTarget/${target}: host key of ${host} does not match: expected ${expected}, presented ${presented}; refusing to connect. If the host was re-keyed on purpose, set spec.ssh.hostKey to "${presented}"`);
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

const expandHome = (path: string) => (path === "~" || path.startsWith("~/") ? `${homedir()}${path.slice(1)}` : path);

/**
 * One SSH connection per target, opened when first needed and reused by every
 * call; a dropped connection is opened again by the next call. The remote
 * Docker socket is reached with `openssh_forwardOutStreamLocal`, container
 * ports with `forwardOut`: nothing but sshd is needed on the host.
 */
export class SshTunnel {
  private ready?: Promise<Client>;
  private client?: Client;
  private closed = false;

  constructor(private readonly options: SshTarget) {}

  /** The connected client, connecting when there is none. */
  connection(): Promise<Client> {
    if (this.closed) return Promise.reject(new SshConnectError(`DeploymentTarget/${this.options.target}: connection closed`));
    this.ready ??= this.open();
    return this.ready;
  }

  /** An http.Agent whose sockets are streams to the remote Docker socket. */
  agent(): Agent {
    const agent = new Agent({ keepAlive: false });
    const create = (_options: unknown, callback: (error: Error | null, socket?: Duplex) => void) => {
      this.connection()
        .then((client) =>
          client.openssh_forwardOutStreamLocal(this.options.remoteSocket, (error, stream) => {
            if (error) return callback(new SshConnectError(`DeploymentTarget/${this.options.target}: cannot reach ${this.options.remoteSocket} on ${this.options.host}: ${error.message}; expected the Docker socket there and the user allowed to use it`, { cause: error }));
            callback(null, asSocket(stream));
          }),
        )
        .catch((error: Error) => callback(error));
      return undefined;
    };
    (agent as unknown as { createConnection: typeof create }).createConnection = create;
    return agent;
  }

  /** Opens a TCP stream to host:port as seen from the remote host (a container's address). */
  readonly dial = async (host: string, port: number, timeoutMs: number): Promise<Duplex> => {
    const client = await this.connection();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect to ${host}:${port} through ${this.options.host} timed out after ${timeoutMs} ms`)), timeoutMs);
      client.forwardOut("127.0.0.1", 0, host, port, (error, stream) => {
        clearTimeout(timer);
        if (error) reject(new Error(`connect to ${host}:${port} through ${this.options.host}: ${error.message}`));
        else resolve(asSocket(stream));
      });
    });
  };

  /** Closes the connection for good. */
  close(): void {
    this.closed = true;
    this.client?.end();
  }

  private open(): Promise<Client> {
    const { target, host, port, user } = this.options;
    const expected = expectedFingerprint(this.options.hostKey);
    let mismatch: HostKeyMismatchError | undefined;
    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      const forget = () => {
        if (this.client === client) this.client = undefined;
        this.ready = undefined;
      };
      client.once("ready", () => {
        this.client = client;
        resolve(client);
      });
      client.on("error", (error) => {
        forget();
        reject(mismatch ?? new SshConnectError(`DeploymentTarget/${target}: ssh ${user}@${host}:${port}: ${error.message}`, { cause: error }));
      });
      client.on("close", forget);
      let config: ConnectConfig;
      try {
        config = {
          host,
          port,
          username: user,
          readyTimeout: 10_000,
          keepaliveInterval: 10_000,
          keepaliveCountMax: 3,
          hostVerifier: (key: Buffer) => {
            const presented = fingerprintOf(key);
            if (presented === expected) return true;
            mismatch = new HostKeyMismatchError(target, host, expected, presented);
            return false;
          },
          ...(this.options.identityFile
            ? { privateKey: readFileSync(expandHome(this.options.identityFile)), passphrase: this.options.passphrase }
            : { agent: this.options.agentSocket }),
        };
      } catch (error) {
        forget();
        return reject(new SshConnectError(`DeploymentTarget/${target}: cannot read identity file ${this.options.identityFile}: ${error instanceof Error ? error.message : error}`, { cause: error }));
      }
      if (!config.privateKey && !config.agent) {
        forget();
        return reject(new SshConnectError(`DeploymentTarget/${target}: no identityFile and no ssh-agent (SSH_AUTH_SOCK is unset); expected spec.ssh.identityFile, e.g. ~/.ssh/id_ed25519`));
      }
      client.connect(config);
    });
  }
}

/** ssh2 channels lack the socket methods Node's http client may call. */
function asSocket(stream: Duplex): Duplex {
  const socket = stream as Duplex & Record<string, unknown>;
  for (const method of ["setTimeout", "setNoDelay", "setKeepAlive", "ref", "unref"]) {
    if (typeof socket[method] !== "function") socket[method] = () => socket;
  }
  return socket;
}
