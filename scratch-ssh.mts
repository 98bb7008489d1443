import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { startTestSshd } from "./test/support/sshd.ts";
import { createManifestDir } from "./test/support/manifest-dir.ts";
const sshd = await startTestSshd();
const dir = createManifestDir();
const n = 10;
const docs = [
  `apiVersion: berth.dev/v1alpha1\nkind: DeploymentTarget\nmetadata: {name: bs}\nspec:\n  type: ssh\n  ssh: {host: 127.0.0.1, port: ${sshd.port}, user: ${sshd.user}, identityFile: ${sshd.identityFile}, hostKey: "${sshd.fingerprint}", remoteSocket: /tmp/deveng/docker.sock}`,
  `apiVersion: berth.dev/v1alpha1\nkind: Project\nmetadata: {name: bs}`,
  `apiVersion: berth.dev/v1alpha1\nkind: Environment\nmetadata: {name: bs-env}\nspec: {project: bs, target: bs}`,
  ...Array.from({ length: n }, (_, i) => `apiVersion: berth.dev/v1alpha1\nkind: Service\nmetadata: {name: bs${i}}\nspec: {project: bs, image: "berth-test/busybox:1", imagePullPolicy: Never, command: ["sleep","86400"], stopGracePeriod: 1s}`),
];
writeFileSync(`${dir.dir}/bench.yaml`, docs.join("\n---\n") + "\n");
const started = Date.now();
const a = spawnSync(process.execPath, ["bin/berth.js", "apply", dir.dir, "--log-level", "debug", "--db", "file:/tmp/bs.db"], { encoding: "utf8", timeout: 120_000 });
console.log("apply exit", a.status, Date.now() - started, "ms");
console.log(a.stderr.split("\n").filter((l) => !l.includes("engine event")).slice(0, 60).join("\n"));
await sshd.stop();
dir.cleanup();
