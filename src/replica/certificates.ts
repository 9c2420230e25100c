import { webcrypto } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stateDir } from "../lifecycle/state.js";
import { DNS_ZONE, ORIGIN_SERVER_NAME, POP_SERVER_NAME } from "./topology.js";

// The replica's own certificate authority and the certificates it issues (issue 15): one CA per
// replica, made at its first HTTPS `replica up` and kept in its state folder, so that load,
// probes and checks trust the same CA across runs; server certificates for the PoP's names,
// and the flawed ones that TLS faults serve (expired, not yet valid, for another name, or
// signed by a CA nobody trusts). Keys are ECDSA P-256, made by Node's WebCrypto; the X.509
// encoding is @peculiar/x509's, loaded only when a certificate is made.

export interface CertificatePem {
  certPem: string;
  keyPem: string;
}

/** What a TLS fault may make wrong in a served certificate. */
export const certificateFlaws = ["expired", "not-yet-valid", "wrong-name", "untrusted"] as const;
export type CertificateFlaw = (typeof certificateFlaws)[number];

export interface IssueOptions {
  /** DNS names and IP addresses the certificate is for (its SANs); the first is its CN. */
  names: readonly string[];
  flaw?: CertificateFlaw | undefined;
  now?: Date;
  /** How long a sound certificate is valid. */
  validDays?: number;
}

const DAY_MS = 86_400_000;
/** A sound server certificate lives 90 days, as ACME's do: a check of days-to-expiry sees about 90. */
export const SERVER_VALID_DAYS = 90;
const CA_VALID_DAYS = 3650;
/** The name a wrong-name certificate is for: reserved, it can belong to nobody. */
export const WRONG_NAME = "wrong-name.invalid";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function x509() {
  await import("reflect-metadata");
  const lib = await import("@peculiar/x509");
  lib.cryptoProvider.set(webcrypto);
  return lib;
}

const newKeys = () => webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const lib = await x509();
  return lib.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const lib = await x509();
  const der = lib.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey("pkcs8", der, ALGORITHM, true, ["sign"]);
}

/** A new self-signed CA, named after the replica. */
export async function createAuthority(replica: string, now = new Date()): Promise<CertificatePem> {
  const lib = await x509();
  const keys = await newKeys();
  const cert = await lib.X509CertificateGenerator.createSelfSigned({
    name: `CN=Faultline replica ${replica} CA, O=Faultline`,
    keys,
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + CA_VALID_DAYS * DAY_MS),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await keyPem(keys.privateKey) };
}

/** The validity window of a certificate with `flaw`, around `now`. */
function validity(
  now: Date,
  flaw: CertificateFlaw | undefined,
  validDays: number,
): { notBefore: Date; notAfter: Date } {
  const at = (days: number) => new Date(now.getTime() + days * DAY_MS);
  if (flaw === "expired") return { notBefore: at(-validDays - 1), notAfter: at(-1) };
  if (flaw === "not-yet-valid") return { notBefore: at(1), notAfter: at(validDays + 1) };
  return { notBefore: at(-1), notAfter: at(validDays) };
}

const isAddress = (name: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":");

/** A server certificate for `names`, signed by `authority` (or, when untrusted, by a CA of its own). */
export async function issueCertificate(
  authority: CertificatePem,
  options: IssueOptions,
): Promise<CertificatePem> {
  const lib = await x509();
  const now = options.now ?? new Date();
  const signer = options.flaw === "untrusted" ? await createAuthority("untrusted", now) : authority;
  const issuer = new lib.X509Certificate(signer.certPem);
  const names = options.flaw === "wrong-name" ? [WRONG_NAME] : options.names;
  const keys = await newKeys();
  const cert = await lib.X509CertificateGenerator.create({
    subject: `CN=${names[0] ?? "faultline"}`,
    issuer: issuer.subject,
    publicKey: keys.publicKey,
    signingKey: await importKey(signer.keyPem),
    signingAlgorithm: ALGORITHM,
    ...validity(now, options.flaw, options.validDays ?? SERVER_VALID_DAYS),
    extensions: [
      new lib.SubjectAlternativeNameExtension(
        names.map((value) => ({ type: isAddress(value) ? "ip" : "dns", value })),
      ),
      new lib.BasicConstraintsExtension(false),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
      new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth]),
      await lib.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await keyPem(keys.privateKey) };
}

/** The names a PoP's certificate is for: its public name, the service, and loopback. */
export const popCertificateNames = (lb: string) => [POP_SERVER_NAME, lb, "localhost", "127.0.0.1"];
/** An edge's certificate with TLS at the edges: the PoP's public name (clients' SNI), its own name, its service. */
export const edgeCertificateNames = (edge: string) => [
  POP_SERVER_NAME,
  `${edge}.${DNS_ZONE}`,
  edge,
  "localhost",
  "127.0.0.1",
];
/** The origin's certificate with origin pull: the name the edges verify, and its service name. */
export const originCertificateNames = [ORIGIN_SERVER_NAME, "origin"];

/** One PEM file with the certificate and its key, each block on lines of its own (HAProxy's form). */
export const combinedPem = (cert: CertificatePem) => `${cert.certPem.trimEnd()}\n${cert.keyPem.trimEnd()}\n`;

/** Where a replica's CA is kept: `<state>/<replica>/tls/`. Clients trust `ca.pem`. */
export function authorityDir(replica: string): string {
  return join(stateDir(replica), "tls");
}

/** The file clients trust: the replica's CA certificate. */
export const authorityCertFile = (replica: string) => join(authorityDir(replica), "ca.pem");

/** The replica's CA: the one its state folder keeps, or a new one, kept there (its key readable by the owner only). */
export async function replicaAuthority(replica: string): Promise<CertificatePem> {
  const dir = authorityDir(replica);
  const cert = authorityCertFile(replica);
  const key = join(dir, "ca-key.pem");
  if (existsSync(cert) && existsSync(key))
    return { certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
  const authority = await createAuthority(replica);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(`${key}.tmp`, authority.keyPem, { mode: 0o600 });
  chmodSync(`${key}.tmp`, 0o600);
  renameSync(`${key}.tmp`, key);
  writeFileSync(`${cert}.tmp`, authority.certPem);
  renameSync(`${cert}.tmp`, cert);
  return authority;
}
