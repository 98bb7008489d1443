import { DockerCallError, type Driver } from "./driver.ts";
import { LABEL } from "./labels.ts";

/** Built images kept per service by default, so the last few revisions can be rolled back to without a rebuild. */
export const KEEP_BUILT_IMAGES = 5;

/**
 * Removes a service's built images beyond the newest `keep`, except those
 * a container still uses (the engine refuses those, and they stay).
 * Returns the tags removed.
 */
export async function pruneBuiltImages(driver: Pick<Driver, "listImages" | "removeImage">, owner: { project: string; service: string }, inUse: ReadonlySet<string>, keep = KEEP_BUILT_IMAGES): Promise<string[]> {
  const images = await driver.listImages([`${LABEL.managed}=true`, `${LABEL.project}=${owner.project}`, `${LABEL.service}=${owner.service}`]);
  const removed: string[] = [];
  for (const image of [...images].sort((a, b) => b.Created - a.Created).slice(keep)) {
    const tags = (image.RepoTags ?? []).filter((t) => t !== "<none>:<none>");
    if (tags.some((t) => inUse.has(t)) || inUse.has(image.Id)) continue;
    for (const tag of tags.length ? tags : [image.Id]) {
      try {
        await driver.removeImage(tag, `prune built images of ${owner.project}/${owner.service} beyond the newest ${keep}`);
        removed.push(tag);
      } catch (error) {
        if (!(error instanceof DockerCallError && error.statusCode === 409)) throw error;
      }
    }
  }
  return removed;
}
