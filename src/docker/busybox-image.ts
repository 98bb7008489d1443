import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DockerDriver } from "./driver.ts";

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "sh", "-c", "mkdir -p /tmp /etc /www /data /root && chmod 1777 /tmp && printf 'root:x:0:0:root:/root:/bin/sh\\\\nnobody:x:65534:65534:nobody:/:/bin/false\\\\n' > /etc/passwd && printf 'root:x:0:\\\\nnogroup:x:65534:\\\\n' > /etc/group"]
COPY index.html /www/index.html
ENV PATH=/bin
CMD ["sh"]
`;

export class BusyboxNotFoundError extends Error {
  constructor() {
    super("a static busybox is needed to build images without a registry; install Debian's busybox-static (apt-get install busybox-static)");
    this.name = "BusyboxNotFoundError";
  }
}

/** Path of the host's busybox binary. */
export function findBusybox(): string {
  const found = ["/bin/busybox", "/usr/bin/busybox"].find((path) => existsSync(path));
  if (!found) throw new BusyboxNotFoundError();
  return found;
}

/**
 * Builds a small image from nothing but the host's static busybox, with the
 * engine's own build (no registry is needed): applets in /bin, /tmp, /etc/passwd,
 * and `page` at /www/index.html for `httpd -f -p 8080 -h /www`.
 */
export async function buildBusyboxImage(driver: DockerDriver, ref: string, page: string): Promise<string> {
  const context = mkdtempSync(join(tmpdir(), "berth-busybox-"));
  try {
    copyFileSync(findBusybox(), join(context, "busybox"));
    writeFileSync(join(context, "Dockerfile"), DOCKERFILE);
    writeFileSync(join(context, "index.html"), page);
    await driver.buildImage({ context, src: ["Dockerfile", "busybox", "index.html"] }, { t: ref, networkmode: "none", rm: true, forcerm: true }, `base image ${ref}`);
    return ref;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
