/**
 * A container's output and a command run in it, as streams: what `berth
 * logs` and `berth exec` need from the engine, local or over SSH alike.
 */
import { PassThrough, type Duplex, type Readable } from "node:stream";
import { createInterface } from "node:readline";
import type { DockerDriver } from "./driver.ts";

export interface LogOptions {
  follow: boolean;
  /** Unix seconds: only lines written since. */
  since?: number;
  /** The last lines of each container only. */
  tail?: number;
}

/** One line of a container's output, with the engine's timestamp (RFC 3339, nanoseconds). */
export interface LogLine {
  time: string;
  stream: "stdout" | "stderr";
  text: string;
}

/** Splits a stream into lines, calling `onLine` for each; resolves when it ends. */
function lines(stream: Readable, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const reader = createInterface({ input: stream, crlfDelay: Infinity });
    reader.on("line", onLine);
    reader.on("close", resolve);
    stream.on("error", reject);
  });
}

/**
 * Reads a container's output line by line with timestamps, following it
 * while `follow` (until the container stops or `signal` aborts).
 */
export async function containerLogLines(driver: DockerDriver, id: string, options: LogOptions, onLine: (line: LogLine) => void, signal?: AbortSignal): Promise<void> {
  const { docker } = driver;
  const container = docker.getContainer(id);
  const tty = (await container.inspect()).Config.Tty;
  const query = { stdout: true, stderr: true, timestamps: true, ...(options.since !== undefined ? { since: options.since } : {}), ...(options.tail !== undefined ? { tail: options.tail } : {}) };
  const source: Readable = options.follow
    ? ((await container.logs({ ...query, follow: true })) as unknown as Readable)
    : asStream(await container.logs({ ...query, follow: false }));
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  if (tty) source.pipe(stdout);
  else {
    docker.modem.demuxStream(source, stdout, stderr);
    source.on("end", () => (stdout.end(), stderr.end()));
  }
  // Interrupted: the engine's stream is dropped and the line readers end with what they have.
  const abort = () => {
    source.unpipe?.();
    source.destroy();
    stdout.end();
    stderr.end();
  };
  signal?.addEventListener("abort", abort, { once: true });
  const split = (stream: "stdout" | "stderr") => (raw: string) => {
    const at = raw.indexOf(" ");
    onLine({ time: at > 0 ? raw.slice(0, at) : "", stream, text: at > 0 ? raw.slice(at + 1) : raw });
  };
  try {
    await Promise.all([lines(stdout, split("stdout")), lines(stderr, split("stderr"))]);
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}

/** A buffer (the whole log when not following) as a stream. */
function asStream(buffer: Buffer | NodeJS.ReadableStream): Readable {
  const stream = new PassThrough();
  if (Buffer.isBuffer(buffer)) stream.end(buffer);
  else (buffer as Readable).pipe(stream);
  return stream;
}

export interface ExecIO {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** Given: the command's standard input (a TTY's keys, or a pipe). */
  stdin?: Readable;
  /** A terminal: one stream, raw, sized as the user's terminal. */
  tty?: { columns: number; rows: number };
}

/** Runs `cmd` in a running container and resolves with its exit code. */
export async function execInContainer(driver: DockerDriver, id: string, cmd: string[], io: ExecIO): Promise<number> {
  const { docker } = driver;
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdin: !!io.stdin, AttachStdout: true, AttachStderr: true, Tty: !!io.tty });
  const stream = (await exec.start({ hijack: true, stdin: !!io.stdin, Tty: !!io.tty })) as Duplex;
  if (io.tty) await exec.resize({ h: io.tty.rows, w: io.tty.columns }).catch(() => {});
  const done = new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", reject);
  });
  if (io.tty) stream.on("data", (chunk: Buffer) => io.stdout(chunk));
  else {
    const out = new PassThrough().on("data", (chunk: Buffer) => io.stdout(chunk));
    const err = new PassThrough().on("data", (chunk: Buffer) => io.stderr(chunk));
    docker.modem.demuxStream(stream, out, err);
  }
  if (io.stdin) io.stdin.pipe(stream);
  await done;
  io.stdin?.unpipe(stream);
  const info = await exec.inspect();
  return info.ExitCode ?? 1;
}
