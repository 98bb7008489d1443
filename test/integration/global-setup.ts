import type { TestProject } from "vitest/node";
import { buildBusyboxImage } from "../../src/docker/busybox-image.ts";
import { DockerDriver } from "../../src/docker/driver.ts";
import { startTestEngine } from "../support/engine.ts";

/** Image every integration suite runs; built locally because no registry is reachable. */
export const TEST_IMAGE = "berth-test/busybox:1";

/** The page every test container serves from /www with `httpd -f -p 8080 -h /www`. */
export const TEST_PAGE = "berth test image\n";

declare module "vitest" {
  export interface ProvidedContext {
    dockerHost: string;
    testImage: string;
  }
}

/** Starts (or connects to) the engine once for the whole integration run. */
export default async function setup(project: TestProject) {
  const engine = await startTestEngine();
  try {
    const image = await buildBusyboxImage(new DockerDriver("test", engine.docker), TEST_IMAGE, TEST_PAGE);
    project.provide("dockerHost", engine.host);
    project.provide("testImage", image);
  } catch (error) {
    await engine.stop();
    throw error;
  }
  return () => engine.stop();
}
