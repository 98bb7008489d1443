import { startTestSshd } from "./test/support/sshd.ts";
import { driverForTarget } from "./src/docker/transport.ts";
const sshd = await startTestSshd();
const d = driverForTarget({ apiVersion: "x", kind: "DeploymentTarget", metadata: { name: "t" }, spec: { type: "ssh", tls: false, ssh: { host: "127.0.0.1", port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, hostKey: sshd.fingerprint, remoteSocket: "/tmp/deveng/docker.sock" } } } as never);
await d.ping();
for (const k of [1, 5, 10, 11, 20]) {
  const t = performance.now();
  await Promise.all(Array.from({ length: k }, () => d.listContainers([])));
  console.log(k, "parallel", Math.round(performance.now() - t), "ms");
}
// a long-lived stream open alongside
const ac = new AbortController();
void d.events([], () => {}, ac.signal).catch(() => {});
await new Promise((r) => setTimeout(r, 200));
const t = performance.now();
await Promise.all(Array.from({ length: 10 }, () => d.listContainers([])));
console.log("10 parallel with events open", Math.round(performance.now() - t), "ms");
ac.abort();
d.close();
await sshd.stop();
process.exit(0);
