import type { TestProject } from "vitest/node";
import { importBusyboxImage } from "../support/busybox-image.ts";
import { startTestEngine } from "../support/engine.ts";

/** Image every integration suite runs; built locally because no registry is reachable. */
export const TEST_IMAGE_REPO = "berth-test/busybox";
export const TEST_IMAGE_TAG = "1";

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
    const image = await importBusyboxImage(engine.docker, TEST_IMAGE_REPO, TEST_IMAGE_TAG);
    project.provide("dockerHost", engine.host);
    project.provide("testImage", image);
  } catch (error) {
    await engine.stop();
    throw error;
  }
  return () => engine.stop();
}
