import { X509Certificate } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  authorityDir,
  createAuthority,
  issueCertificate,
  replicaAuthority,
  SERVER_VALID_DAYS,
  WRONG_NAME,
} from "../../src/replica/certificates.js";
import { tempDir } from "../support/temp.js";

// The replica's CA and its certificates, checked with Node's own X.509 (OpenSSL), not with the
// library that made them.

const DAY = 86_400_000;
const NOW = new Date("2026-12-02T12:00:00Z");
const NAMES = ["edge-1", "pop.faultline.test", "127.0.0.1"];

describe("the replica's certificate authority", () => {
  const stateDirBefore = process.env.FAULTLINE_STATE_DIR;
  afterEach(() => {
    if (stateDirBefore === undefined) delete process.env.FAULTLINE_STATE_DIR;
    else process.env.FAULTLINE_STATE_DIR = stateDirBefore;
  });
  it("issues server certificates for the PoP's names that verify against it", async () => {
    const authority = await createAuthority("unit", NOW);
    const ca = new X509Certificate(authority.certPem);
    expect(ca.ca).toBe(true);
    const issued = await issueCertificate(authority, { names: NAMES, now: NOW });
    const cert = new X509Certificate(issued.certPem);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkHost("pop.faultline.test")).toBe("pop.faultline.test");
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(
      cert.checkPrivateKey(await import("node:crypto").then((c) => c.createPrivateKey(issued.keyPem))),
    ).toBe(true);
    const days = (Date.parse(cert.validTo) - NOW.getTime()) / DAY;
    expect(Math.round(days)).toBe(SERVER_VALID_DAYS);
  });

  it("makes the flawed certificates TLS faults serve", async () => {
    const authority = await createAuthority("unit", NOW);
    const ca = new X509Certificate(authority.certPem);
    const flawed = async (flaw: "expired" | "not-yet-valid" | "wrong-name" | "untrusted") =>
      new X509Certificate((await issueCertificate(authority, { names: NAMES, now: NOW, flaw })).certPem);
    const expired = await flawed("expired");
    expect(Date.parse(expired.validTo)).toBeLessThan(NOW.getTime());
    expect(expired.checkIssued(ca)).toBe(true);
    const early = await flawed("not-yet-valid");
    expect(Date.parse(early.validFrom)).toBeGreaterThan(NOW.getTime());
    const wrong = await flawed("wrong-name");
    expect(wrong.checkHost("pop.faultline.test")).toBeUndefined();
    expect(wrong.subjectAltName).toBe(`DNS:${WRONG_NAME}`);
    const untrusted = await flawed("untrusted");
    expect(untrusted.checkIssued(ca)).toBe(false);
    expect(untrusted.verify(ca.publicKey)).toBe(false);
  });

  it("is kept in the replica's state folder, its key readable by its owner only, and reused", async () => {
    process.env.FAULTLINE_STATE_DIR = tempDir("faultline-ca-");
    const first = await replicaAuthority(`unit-ca-${process.pid}`);
    const again = await replicaAuthority(`unit-ca-${process.pid}`);
    expect(again.certPem).toBe(first.certPem);
    const mode = statSync(join(authorityDir(`unit-ca-${process.pid}`), "ca-key.pem")).mode & 0o777;
    expect(mode).toBe(0o600);
  });
});
