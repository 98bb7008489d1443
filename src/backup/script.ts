/**
 * The shell scripts the helper container runs. They use only sh, tar, gzip,
 * sha256sum, find and mv, which busybox and coreutils images both have. The
 * volume is mounted read-only at SOURCE for a backup and read-write at
 * VOLUME for a restore; the destination at ARCHIVES.
 */
export const SOURCE = "/berth/source";
export const VOLUME = "/berth/volume";
export const ARCHIVES = "/berth/archives";
const STAGE = ".berth-restore";

/** Quotes a word for sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Writes `file` (a path inside the destination) as a gzip tar of the volume,
 * under a temporary name until it is complete and its checksum is known, with
 * a `.sha256` beside it. Prints one line Berth reads:
 * `berth-backup sha256=<hex> size=<bytes>`. Old archives are deleted by a
 * separate job, only once this one is recorded as succeeded.
 */
export function backupScript(file: string): string {
  const path = `${ARCHIVES}/${file}`;
  const dir = path.slice(0, path.lastIndexOf("/"));
  const name = path.slice(dir.length + 1);
  const part = `${dir}/.${name}.part`;
  return [
    "set -eu",
    `mkdir -p ${shellQuote(dir)}`,
    `tar -czf ${shellQuote(part)} -C ${SOURCE} .`,
    `sum=$(sha256sum ${shellQuote(part)} | cut -d ' ' -f 1)`,
    `size=$(wc -c < ${shellQuote(part)} | tr -d ' ')`,
    // A pipeline's failure would leave these empty: nothing is kept that cannot be checked.
    `case "$sum" in ${"[0-9a-f]".repeat(8)}*) ;; *) rm -f ${shellQuote(part)}; echo "no checksum of the archive" >&2; exit 2;; esac`,
    `mv ${shellQuote(part)} ${shellQuote(path)}`,
    `echo "$sum  ${name}" > ${shellQuote(`${path}.sha256`)}`,
    'echo "berth-backup sha256=$sum size=$size"',
  ].join("\n");
}

/** Deletes archives (and their checksums) from the destination. */
export function pruneScript(files: readonly string[]): string {
  return ["set -eu", ...files.map((f) => `rm -f ${shellQuote(`${ARCHIVES}/${f}`)} ${shellQuote(`${ARCHIVES}/${f}.sha256`)}`), "echo berth-pruned"].join("\n");
}

/**
 * Checks the archive against the recorded checksum, unpacks it beside the
 * volume's data first (so a damaged archive leaves the data as it was), and
 * only then replaces the data with it. Exit 3: archive missing; 4: checksum
 * differs; 5: it does not unpack (the data is untouched); else the
 * replacement itself failed.
 */
export function restoreScript(file: string, sha256: string): string {
  const path = shellQuote(`${ARCHIVES}/${file}`);
  const stage = `${VOLUME}/${STAGE}`;
  return [
    "set -eu",
    `[ -f ${path} ] || { echo "archive ${file} is not in the destination" >&2; exit 3; }`,
    `sum=$(sha256sum ${path} | cut -d ' ' -f 1)`,
    `[ "$sum" = ${shellQuote(sha256)} ] || { echo "archive checksum $sum differs from the recorded ${sha256}" >&2; exit 4; }`,
    `rm -rf ${stage}`,
    `mkdir ${stage}`,
    `tar -xzf ${path} -C ${stage} || { rm -rf ${stage}; echo "the archive does not unpack; the volume is as it was" >&2; exit 5; }`,
    `find ${VOLUME} -mindepth 1 -maxdepth 1 ! -name ${STAGE} -exec rm -rf {} +`,
    `for f in ${stage}/* ${stage}/.[!.]* ${stage}/..?*; do if [ -e "$f" ] || [ -L "$f" ]; then mv "$f" ${VOLUME}/; fi; done`,
    `rmdir ${stage}`,
    "echo berth-restored",
  ].join("\n");
}

/** What a backup script reported, or undefined when it never got to say. */
export function parseBackupOutput(output: string): { sha256: string; sizeBytes: number } | undefined {
  const match = /berth-backup sha256=([0-9a-f]{64}) size=([0-9]+)/.exec(output);
  return match ? { sha256: match[1]!, sizeBytes: Number(match[2]) } : undefined;
}
