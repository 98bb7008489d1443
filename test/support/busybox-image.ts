import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";

/** The page every test container serves from /www with `httpd -f -p 8080 -h /www`. */
export const TEST_PAGE = "berth test image\n";

function findStaticBusybox(): string {
  const candidates = ["/bin/busybox", "/usr/bin/busybox"];
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error("busybox not found: install Debian's busybox-static (apt-get install busybox-static)");
  return found;
}

/**
 * Builds an image from nothing but a static busybox (no registry is reachable):
 * a root file system with the applets, /tmp, /etc/passwd and a page to serve.
 */
export async function importBusyboxImage(docker: Docker, repo: string, tag: string): Promise<string> {
  const busybox = findStaticBusybox();
  const root = mkdtempSync("/tmp/berth-rootfs-");
  try {
    for (const dir of ["bin", "etc", "tmp", "www", "root", "proc", "sys", "dev", "data"]) mkdirSync(join(root, dir));
    chmodSync(join(root, "tmp"), 0o1777);
    copyFileSync(busybox, join(root, "bin/busybox"));
    chmodSync(join(root, "bin/busybox"), 0o755);
    const applets = execFileSync(busybox, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
    for (const applet of applets) if (applet !== "busybox") symlinkSync("busybox", join(root, "bin", applet));
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
    writeFileSync(join(root, "www/index.html"), TEST_PAGE);

    const tar = spawn("tar", ["-C", root, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const progress = await docker.importImage(tar.stdout as unknown as string, {
      repo,
      tag,
      changes: ["ENV PATH=/bin", 'CMD ["sh"]'],
    } as object);
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(progress, (error) => (error ? reject(error) : resolve())),
    );
    return `${repo}:${tag}`;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
