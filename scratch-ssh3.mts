import { startTestSshd } from "./test/support/sshd.ts";
import { driverForTarget } from "./src/docker/transport.ts";
const sshd = await startTestSshd();
const mk = (type: string) => driverForTarget({ apiVersion: "x", kind: "DeploymentTarget", metadata: { name: "t" }, spec: type === "ssh" ? { type: "ssh", tls: false, ssh: { host: "127.0.0.1", port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, hostKey: sshd.fingerprint, remoteSocket: "/tmp/deveng/docker.sock" } } : { type: "local", tls: false, docker: { host: "unix:///tmp/deveng/docker.sock" } } } as never);
for (const type of ["local", "ssh"]) {
  const d = mk(type);
  const ac = new AbortController();
  void d.events([], () => {}, ac.signal).catch(() => {});
  await d.ping();
  let t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => d.createContainer({ name: `sc-${type}-${i}`, Image: "berth-test/busybox:1", Cmd: ["sleep", "100"] }, "x")));
  console.log(type, "10 parallel creates", Math.round(performance.now() - t0));
  t0 = performance.now();
  await Promise.all(ids.map((id) => d.startContainer(id, "x")));
  console.log(type, "10 parallel starts", Math.round(performance.now() - t0));
  t0 = performance.now();
  await Promise.all(Array.from({ length: 30 }, () => d.listContainers([])));
  console.log(type, "30 parallel lists", Math.round(performance.now() - t0));
  for (const id of ids) await d.removeContainer(id, "x");
  ac.abort();
  d.close();
}
await sshd.stop();
process.exit(0);
