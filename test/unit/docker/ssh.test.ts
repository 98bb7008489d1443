import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { expectedFingerprint, SshTunnel } from "../../../src/docker/ssh.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A TCP server on loopback that greets like sshd and then does `then` with the socket. */
async function fakeSshd(then: (socket: import("node:net").Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.write("SSH-2.0-OpenSSH_9.2\r\n");
    then(socket);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

const tunnel = (port: number) => new SshTunnel({ target: "t", host: "127.0.0.1", port, user: "u", agentSocket: "/nonexistent", hostKey: `SHA256:${"A".repeat(43)}`, remoteSocket: "/var/run/docker.sock" });

describe("ssh host keys", () => {
  it("computes the fingerprint ssh-keygen prints, from a public key line with or without a comment", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-key-"));
    try {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "a comment", "-f", join(dir, "k")]);
      const printed = execFileSync("ssh-keygen", ["-l", "-f", join(dir, "k.pub")], { encoding: "utf8" }).split(" ")[1];
      const line = readFileSync(join(dir, "k.pub"), "utf8").trim();
      expect(expectedFingerprint(line)).toBe(printed);
      expect(expectedFingerprint(line.split(" ").slice(0, 2).join(" "))).toBe(printed);
      expect(expectedFingerprint(`${printed}=`)).toBe(printed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SshTunnel connections", () => {
  it("rejects, rather than hanging, when the server closes before the connection is ready", async () => {
    const port = await fakeSshd((socket) => setTimeout(() => socket.destroy(), 50));
    await expect(tunnel(port).connection()).rejects.toThrow(/DeploymentTarget\/t: ssh u@127.0.0.1/);
  });

  it("fails fast for a while after a failed connect instead of dialling again at once", async () => {
    let accepted = 0;
    const port = await fakeSshd((socket) => {
      accepted++;
      socket.destroy();
    });
    const t = tunnel(port);
    await expect(t.connection()).rejects.toThrow();
    await expect(t.connection()).rejects.toThrow();
    expect(accepted).toBe(1);
  });

  it("refuses every call once closed", async () => {
    const t = tunnel(1);
    t.close();
    await expect(t.connection()).rejects.toThrow("connection closed");
  });
});

describe("SshTunnel credentials", () => {
  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666]) {
    it(`refuses an identity file with mode ${mode.toString(8).padStart(4, "0")} (others than its owner can read or write it), naming chmod 600`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "berth-key-"));
      const key = join(dir, "id");
      try {
        const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
        writeFileSync(key, privateKey);
        chmodSync(key, mode);
        let dialled = 0;
        const port = await fakeSshd((socket) => {
          dialled++;
          socket.destroy();
        });
        const t = new SshTunnel({ target: "t", host: "127.0.0.1", port, user: "deploy", identityFile: key, hostKey: `SHA256:${"A".repeat(43)}`, remoteSocket: "/var/run/docker.sock" });
        const error = (await t.connection().catch((e: Error) => e)) as Error;
        expect(error.message).toContain(`DeploymentTarget/t: identity file ${key}`);
        expect(error.message).toContain(`mode ${mode.toString(8).padStart(4, "0")}`);
        expect(error.message).toContain(`chmod 600 ${key}`);
        expect(dialled).toBe(0);
        t.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("names a key it cannot use, and recovers without a restart once the key file is fixed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-key-"));
    const key = join(dir, "id");
    try {
      writeFileSync(key, "this is not a private key\n", { mode: 0o600 });
      // Nothing listens here: once the key is usable, the next attempt fails at the connection instead.
      const closed = await new Promise<number>((resolve) => {
        const s = createServer();
        s.listen(0, "127.0.0.1", () => {
          const { port } = s.address() as { port: number };
          s.close(() => resolve(port));
        });
      });
      const t = new SshTunnel({ target: "t", host: "127.0.0.1", port: closed, user: "deploy", identityFile: key, hostKey: `SHA256:${"A".repeat(43)}`, remoteSocket: "/var/run/docker.sock" });
      const first = (await t.connection().catch((e: Error) => e)) as Error;
      expect(first.message).not.toMatch(/before initialization/);
      expect(first.message).toMatch(new RegExp(`identity file ${key.replace(/[/.]/g, "\\$&")}`));
      expect(first.message).toMatch(/spec\.ssh\.identityFile/);

      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
      writeFileSync(key, privateKey, { mode: 0o600 });
      await new Promise((r) => setTimeout(r, 1_100)); // the fail-fast window after a failed connect
      const second = (await t.connection().catch((e: Error) => e)) as Error;
      expect(second.message).toMatch(/refused|ECONNREFUSED/i);
      expect(second.message).toMatch(/sshd/);
      t.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
