/**
 * Prepares the images the example manifests use on the engine DOCKER_HOST names
 * (default /var/run/docker.sock): `npm run demo:images`. Nothing is pulled.
 */
import { buildBusyboxImage } from "./busybox-image.ts";
import { connectDocker, defaultDockerHost } from "./connection.ts";
import { DockerDriver } from "./driver.ts";

export const DEMO_BASE_IMAGE = "berth-demo/busybox:1";

/** Builds the example's base image on the driver's engine. */
export async function buildDemoImages(driver: DockerDriver): Promise<void> {
  await buildBusyboxImage(driver, DEMO_BASE_IMAGE, "<!doctype html><title>Berth demo</title><p>api is up</p>\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const host = defaultDockerHost();
  const driver = new DockerDriver("local", connectDocker(host));
  try {
    await driver.ping();
  } catch (error) {
    console.error(`no Docker engine answers at ${host}: ${error instanceof Error ? error.message : error}\nstart dockerd, or point DOCKER_HOST at a running engine (e.g. DOCKER_HOST=unix:///run/docker.sock)`);
    process.exit(1);
  }
  await buildDemoImages(driver);
  console.log(`built ${DEMO_BASE_IMAGE} on ${host}`);
}
