/** Where manifests are read from when no directory is given. */
export const DEFAULT_MANIFESTS_DIR = "manifests";
