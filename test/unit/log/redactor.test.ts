import { describe, expect, it } from "vitest";
import { MASK, Redactor, redactThenTruncate } from "../../../src/log/logger.ts";

function redactor(...secrets: string[]): Redactor {
  const r = new Redactor();
  r.setSecrets(secrets);
  return r;
}

/** Every prefix and suffix of `secret` at least `min` characters long: what a cut through it would leave. */
function parts(secret: string, min = 3): string[] {
  const out: string[] = [];
  for (let n = min; n < secret.length; n++) out.push(secret.slice(0, n), secret.slice(secret.length - n));
  return out;
}

describe("Redactor: secrets of 6 characters or more", () => {
  it("masks them wherever they occur, inside words too", () => {
    const r = redactor("hunter2-password");
    expect(r.redact("token=hunter2-password; xhunter2-passwordx")).toBe(`token=${MASK}; x${MASK}x`);
  });

  it("masks overlapping secrets whole: no part of either is left", () => {
    // Masking one after the other would leave "3456" (the second no longer matches once the first is masked).
    const r = redactor("abcdef12", "ef123456");
    const out = r.redact("<abcdef123456>");
    expect(out).toBe(`<${MASK}>`);
    for (const part of [...parts("abcdef12"), ...parts("ef123456")]) expect(out).not.toContain(part);
  });

  it("masks a secret containing another as one mask, whatever order they are given in", () => {
    expect(redactor("secret", "my-secret-value").redact("a my-secret-value b secret c")).toBe(`a ${MASK} b ${MASK} c`);
    expect(redactor("my-secret-value", "secret").redact("a my-secret-value b secret c")).toBe(`a ${MASK} b ${MASK} c`);
  });

  it("masks a secret that contains the mask's own characters without re-masking the mask", () => {
    const r = redactor("pa**word", "******");
    expect(r.redact("x pa**word y")).toBe(`x ${MASK} y`);
    expect(r.redact(r.redact("x pa**word y"))).toBe(`x ${MASK} y`);
  });
});

describe("Redactor: secrets under 6 characters", () => {
  it("masks a 3-character secret where it stands as a whole value", () => {
    const r = redactor("x9q");
    expect(r.redact("x9q")).toBe(MASK);
    expect(r.redact("PIN=x9q")).toBe(`PIN=${MASK}`);
    expect(r.redact("PIN=x9q other=1")).toBe(`PIN=${MASK} other=1`);
    expect(r.redact('{"pin":"x9q","user":"bob"}')).toBe(`{"pin":"${MASK}","user":"bob"}`);
    expect(r.redact("pin: x9q")).toBe(`pin: ${MASK}`);
    expect(r.redact("postgres://app:x9q@db:5432/shop")).toBe(`postgres://app:${MASK}@db:5432/shop`);
    expect(r.redact("line one\nx9q\nline three")).toBe(`line one\n${MASK}\nline three`);
    expect(r.redact("set pin='x9q'.")).toBe(`set pin='${MASK}'.`);
    expect(r.redact("PIN=x9q.")).toBe(`PIN=${MASK}.`);
  });

  it("masks 1- and 2-character secrets as whole values too", () => {
    expect(redactor("7").redact("LEVEL=7")).toBe(`LEVEL=${MASK}`);
    expect(redactor("ab").redact('{"k":"ab"}')).toBe(`{"k":"${MASK}"}`);
  });

  it("does not shred words containing a short secret, which would show the secret by where the masks fall", () => {
    const r = redactor("test");
    const prose = "contest: testing the latest build; attest tests passed; test-db up; unit test ok";
    expect(r.redact(prose)).toBe(prose);
    // Where it stands as a value it is masked.
    expect(r.redact("DB_PASSWORD=test")).toBe(`DB_PASSWORD=${MASK}`);
    expect(r.redact('{"password":"test"}')).toBe(`{"password":"${MASK}"}`);
  });

  it("does not mask a short secret that is only the start or end of a longer value", () => {
    const r = redactor("abc");
    expect(r.redact("KEY=abcd")).toBe("KEY=abcd");
    expect(r.redact("KEY=xabc")).toBe("KEY=xabc");
    expect(r.redact('"abcd"')).toBe('"abcd"');
  });

  it("ignores empty and blank values", () => {
    const r = redactor("", " ", "\n");
    expect(r.redact("a b\nc")).toBe("a b\nc");
  });

  it("masks a long and a short secret in the same text", () => {
    const r = redactor("hunter2-password", "x9q");
    expect(r.redact("PIN=x9q TOKEN=hunter2-password")).toBe(`PIN=${MASK} TOKEN=${MASK}`);
  });
});

describe("redactThenTruncate", () => {
  const secret = "S3cr3t-Token-0123456789";

  it.each([200, 300, 500])("masks a secret crossing the %i-character cut before cutting", (max) => {
    const r = redactor(secret);
    for (const offset of [1, 5, 10, secret.length - 1]) {
      const text = `${"x".repeat(max - offset)}${secret} and more`;
      const out = r.redactThenTruncate(text, max);
      expect(out.length).toBeLessThanOrEqual(max);
      for (const part of parts(secret)) expect(out).not.toContain(part);
    }
  });

  it("leaves short text as it is, masked", () => {
    expect(redactor(secret).redactThenTruncate(`say ${secret}`, 200)).toBe(`say ${MASK}`);
  });

  it("is also a plain function over any redact function (for components handed only a function)", () => {
    const r = redactor(secret);
    const text = `${"y".repeat(195)}${secret}`;
    const out = redactThenTruncate((t) => r.redact(t), text, 200);
    expect(out).toBe(`${"y".repeat(195)}${MASK}`);
  });

  it("does not leave a short secret standing as a value at the cut", () => {
    // Cut after "PIN=x9q", the rest of the value gone: what is left is the secret as a whole value.
    const r = redactor("x9q");
    expect(r.redactThenTruncate("PIN=x9qz", 7)).toBe(`PIN=${MASK}`);
  });
});

describe("structured values", () => {
  it("masks a secret inside an object field before it is escaped (a multi-line value, a quote)", async () => {
    const { createLogger, Redactor, redactDeep } = await import("../../../src/log/logger.ts");
    const redactor = new Redactor();
    redactor.setSecrets(["line1\nline2-secret-XYZW", 'pa"ss-word-QRST']);
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), redactor });
    log.info("x", { obj: { v: "line1\nline2-secret-XYZW", w: ['pa"ss-word-QRST'] } });
    expect(lines.join("\n")).not.toMatch(/XYZW|QRST/);
    // A short secret equal to a JSON literal never breaks the structure it is masked in.
    const short = new Redactor();
    short.setSecrets(["true"]);
    expect(redactDeep({ identical: true, note: "true" }, (t) => short.redact(t))).toEqual({ identical: true, note: "***" });
  });
});

describe("Redactor: rotated secrets", () => {
  it("keeps masking a value the manifests no longer hold, since older containers may still print it", () => {
    const r = new Redactor();
    r.setSecrets(["old-password-1"]);
    r.setSecrets(["new-password-2"]);
    expect(r.redact("was old-password-1, now new-password-2")).toBe("was ***, now ***");
  });

  it("forgets the oldest retired values beyond a thousand, never a current one", () => {
    const r = new Redactor();
    for (let i = 0; i <= 1_001; i++) r.setSecrets([`rotated-value-${i}`]);
    expect(r.redact("rotated-value-0 rotated-value-1 rotated-value-2 rotated-value-1001")).toBe("rotated-value-0 *** *** ***");
  });
});
