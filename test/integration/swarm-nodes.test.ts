import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBusyboxImage } from "../../src/docker/busybox-image.ts";
import { DockerDriver } from "../../src/docker/driver.ts";
import { eventually } from "../support/berth.ts";
import { cliRunner } from "../support/cli.ts";
import { startPrivateEngine, type TestEngine } from "../support/engine.ts";
import { freePort } from "../support/processes.ts";

/**
 * Placement across two Swarm nodes: a manager, and a worker engine in a
 * network namespace of its own (another host as far as networking goes),
 * joined over a veth pair. Spread preferences put one task on each node;
 * a constraint pins a service to the worker.
 */
const suffix = String(process.pid % 10_000);
const NETNS = `berth-worker-${suffix}`;
const HOST_END = `bw${suffix}a`;
const NS_END = `bw${suffix}b`;
const MANAGER_IP = "10.231.7.1";
const WORKER_IP = "10.231.7.2";
const IMAGE = "berth-nodes/busybox:1";
let manager: TestEngine | undefined;
let worker: TestEngine | undefined;
let work: string;

function ip(...args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr}`);
}

beforeAll(async () => {
  ip("netns", "add", NETNS);
  ip("link", "add", HOST_END, "type", "veth", "peer", "name", NS_END);
  ip("link", "set", NS_END, "netns", NETNS);
  ip("addr", "add", `${MANAGER_IP}/30`, "dev", HOST_END);
  ip("link", "set", HOST_END, "up");
  ip("netns", "exec", NETNS, "ip", "addr", "add", `${WORKER_IP}/30`, "dev", NS_END);
  ip("netns", "exec", NETNS, "ip", "link", "set", NS_END, "up");
  ip("netns", "exec", NETNS, "ip", "link", "set", "lo", "up");

  manager = await startPrivateEngine("172.28.0.0/16");
  worker = await startPrivateEngine("172.27.0.0/16", { netns: NETNS });
  const port = await freePort();
  await manager.docker.swarmInit({ ListenAddr: `${MANAGER_IP}:${port}`, AdvertiseAddr: MANAGER_IP });
  const tokens = ((await manager.docker.swarmInspect()) as { JoinTokens: { Worker: string } }).JoinTokens;
  await worker.docker.swarmJoin({ ListenAddr: `${WORKER_IP}:${port}`, AdvertiseAddr: WORKER_IP, RemoteAddrs: [`${MANAGER_IP}:${port}`], JoinToken: tokens.Worker });
  // The image is on every node, as a registry would make it.
  for (const engine of [manager, worker]) await buildBusyboxImage(new DockerDriver("nodes", engine.docker), IMAGE, "nodes\n");
  // Zones to spread over, the manager in a and the worker in b, once both nodes are ready (a node's version moves until then).
  type Node = { ID: string; Version: { Index: number }; Spec: Record<string, unknown>; Status: { Addr: string; State: string } };
  await eventually(async () => {
    const nodes = (await manager!.docker.listNodes()) as Node[];
    return nodes.length === 2 && nodes.every((n) => n.Status.State === "ready") ? true : undefined;
  }, 60_000, "both nodes ready");
  for (const zone of ["a", "b"]) {
    await eventually(async () => {
      const node = ((await manager!.docker.listNodes()) as Node[]).find((n) => (n.Status.Addr === WORKER_IP) === (zone === "b"))!;
      // Re-read and retried: "update out of sequence" when the node changed in between.
      const update = manager!.docker.getNode(node.ID).update({ version: node.Version.Index, ...node.Spec, Labels: { zone } } as never) as unknown as Promise<unknown>;
      return update.then(() => true, () => undefined);
    }, 30_000, `zone ${zone} labelled`);
  }
  work = mkdtempSync(join(tmpdir(), "berth-nodes-"));
}, 240_000);

afterAll(async () => {
  await worker?.docker.swarmLeave({ force: true }).catch(() => {});
  await manager?.docker.swarmLeave({ force: true }).catch(() => {});
  await worker?.stop().catch(() => {});
  await manager?.stop().catch(() => {});
  spawnSync("ip", ["link", "del", HOST_END]);
  spawnSync("ip", ["netns", "del", NETNS]);
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe("a Swarm target of two nodes", () => {
  it("spreads a service's tasks over the nodes' zones and pins another to the worker by a constraint", async () => {
    const nodes = new Map(((await manager!.docker.listNodes()) as { ID: string; Status: { Addr: string } }[]).map((n) => [n.ID, n.Status.Addr]));
    expect([...nodes.values()].sort()).toEqual([MANAGER_IP, WORKER_IP]);
    const dir = join(work, "manifests");
    rmSync(dir, { recursive: true, force: true });
    spawnSync("mkdir", ["-p", dir]);
    const service = (name: string, extra: string) => `apiVersion: berth.dev/v1beta1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  project: spread\n  image: ${IMAGE}\n  imagePullPolicy: Never\n  command: [sleep, "3600"]\n${extra}`;
    writeFileSync(
      join(dir, "all.yaml"),
      [
        `apiVersion: berth.dev/v1beta1\nkind: DeploymentTarget\nmetadata: {name: cluster}\nspec: {type: swarm, docker: {host: "${manager!.host}"}}`,
        "apiVersion: berth.dev/v1beta1\nkind: Project\nmetadata: {name: spread}",
        "apiVersion: berth.dev/v1beta1\nkind: Environment\nmetadata: {name: live}\nspec: {project: spread, target: cluster}",
        service("web", "  replicas: 2\n  placement: {preferences: [{spread: node.labels.zone}]}"),
        service("batch", '  placement: {constraints: ["node.role == worker"]}'),
      ].join("\n---\n"),
    );
    const applied = await cliRunner({ DOCKER_HOST: manager!.host })("apply", dir, "--db", `file:${join(work, "berth.db")}`, "--wait", "--timeout", "120s");
    expect(applied.code, applied.out).toBe(0);

    const runningOn = async (service: string) =>
      ((await manager!.docker.listTasks({ filters: { service: [service], "desired-state": ["running"] } })) as { NodeID: string; Status: { State: string } }[]).filter((t) => t.Status.State === "running").map((t) => nodes.get(t.NodeID));
    const web = await eventually(async () => {
      const on = await runningOn("spread-live-web");
      return on.length === 2 ? on : undefined;
    }, 60_000, "two web tasks");
    expect(web.sort()).toEqual([MANAGER_IP, WORKER_IP]);
    expect(await runningOn("spread-live-batch")).toEqual([WORKER_IP]);
    // The worker runs them: its own engine has the task containers.
    const onWorker = await worker!.docker.listContainers({ filters: { label: ["dev.berth.project=spread"] } });
    expect(onWorker.map((c) => c.Labels["dev.berth.service"]).sort()).toEqual(["batch", "web"]);
  }, 240_000);
});
