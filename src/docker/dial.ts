import { connect } from "node:net";
import type { Duplex } from "node:stream";

/** Opens a TCP stream to a container port; SSH targets forward it through their connection. */
export type Dialer = (host: string, port: number, timeoutMs: number) => Promise<Duplex>;

/** Dials straight from this host: a local engine's containers are reachable on their bridge addresses. */
export const directDialer: Dialer = (host, port, timeoutMs) =>
  new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once("timeout", () => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
    });
    socket.once("error", reject);
  });
