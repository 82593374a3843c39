// Development certificates: a throwaway CA and a serving certificate it signs, for 127.0.0.1, localhost and
// any extra DNS names (e.g. the Service's in-cluster names) and IP addresses.
import { generateKeyPairSync } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import forge from "node-forge";

export interface CertBundle {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface CertFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface SelfSignedOptions {
  dnsNames?: string[] | undefined;
  ipAddresses?: string[] | undefined;
  /** Also valid for 127.0.0.1 and localhost (default true). */
  loopback?: boolean;
  validDays?: number;
}

export function generateSelfSigned(options: SelfSignedOptions = {}): CertBundle {
  const validDays = options.validDays ?? 365;
  const caKeys = rsaKeyPair();
  const ca = newCertificate(caKeys.publicKey, validDays);
  const caName = [{ name: "commonName", value: "spot-orchestrator webhook dev CA" }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = rsaKeyPair();
  const cert = newCertificate(keys.publicKey, validDays);
  cert.setSubject([{ name: "commonName", value: options.dnsNames?.[0] ?? "localhost" }]);
  cert.setIssuer(caName);
  const altNames = [
    ...(options.loopback === false
      ? []
      : [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ]),
    ...(options.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
    { name: "authorityKeyIdentifier", keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

/** Node's native RSA key generation: far faster than forge's pure-JS one. */
function rsaKeyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey } {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const key = forge.pki.privateKeyFromPem(privateKey);
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function newCertificate(publicKey: forge.pki.PublicKey, validDays: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive serial: the leading byte must not have its high bit set.
  cert.serialNumber = "01" + forge.util.bytesToHex(forge.random.getBytesSync(15));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + validDays * 86_400_000);
  return cert;
}

/** Writes the bundle as ca.crt, tls.crt and tls.key (the names of a cert-manager Secret). */
export async function writeCertFiles(dir: string, bundle: CertBundle): Promise<CertFiles> {
  await mkdir(dir, { recursive: true });
  const files = {
    caFile: join(dir, "ca.crt"),
    certFile: join(dir, "tls.crt"),
    keyFile: join(dir, "tls.key"),
  };
  await writeFile(files.caFile, bundle.caPem);
  await writeFile(files.certFile, bundle.certPem);
  await writeFile(files.keyFile, bundle.keyPem, { mode: 0o600 });
  return files;
}
