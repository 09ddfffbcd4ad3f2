/**
 * Test certificates, made when the tests run with the `openssl` command line into a fresh
 * temporary directory (removed after the file's tests): no private key is ever committed.
 *
 * - `ca`: a test certificate authority (EC P-256), trusted only where a test passes it as `ca`.
 * - `localhost`: signed by `ca`, for DNS:localhost and IP:127.0.0.1.
 * - `alt`: signed by `ca`, for DNS:alt.test only (served by SNI, or a name mismatch).
 * - `selfSigned`: a self-signed leaf for DNS:localhost and IP:127.0.0.1, trusted by no one.
 * - `client`: signed by `ca` for client authentication (mutual TLS), CN "wsraw test client".
 *
 * Without `openssl` the TLS tests are skipped with a message naming Debian's `openssl`
 * package, except under CI=true, where they run (and fail): CI must not skip them silently.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const OPENSSL = "openssl";

/** Why the TLS tests cannot run here, or undefined when they can. */
export const opensslSkip: string | undefined =
  process.env.CI === "true" || spawnSync(OPENSSL, ["version"]).status === 0
    ? undefined
    : "the openssl command is missing: install Debian's openssl package to run the TLS tests";
if (opensslSkip !== undefined) console.warn(`skipping TLS tests: ${opensslSkip}`);

/** A test title that says why it was skipped, when it is. */
export function tlsTitle(title: string): string {
  return opensslSkip === undefined ? title : `${title} (skipped: ${opensslSkip})`;
}

export interface KeyPair {
  /** PEM private key. */
  key: Buffer;
  /** PEM certificate. */
  cert: Buffer;
  keyFile: string;
  certFile: string;
}

export interface TestCerts {
  dir: string;
  ca: KeyPair;
  localhost: KeyPair;
  alt: KeyPair;
  selfSigned: KeyPair;
  client: KeyPair;
}

function openssl(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(OPENSSL, args, { cwd, timeout: 15_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else resolve();
    });
  });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function config(commonName: string, extensions: string[]): string {
  return [
    "[req]",
    "distinguished_name = dn",
    "prompt = no",
    "x509_extensions = ext",
    "[dn]",
    `CN = ${commonName}`,
    "[ext]",
    ...extensions,
    "",
  ].join("\n");
}

const LEAF_EXTENSIONS = (names: string, usage = "serverAuth") => [
  "basicConstraints = critical, CA:FALSE",
  "keyUsage = critical, digitalSignature, keyEncipherment",
  `extendedKeyUsage = ${usage}`,
  `subjectAltName = ${names}`,
];

async function load(dir: string, name: string): Promise<KeyPair> {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  return { key: await readFile(keyFile), cert: await readFile(certFile), keyFile, certFile };
}

/** A self-signed certificate: `-x509` with the extensions of `extensions`. */
async function selfSigned(dir: string, name: string, commonName: string, extensions: string[]): Promise<KeyPair> {
  await writeFile(join(dir, `${name}.cnf`), config(commonName, extensions));
  await openssl(
    ["req", "-x509", ...EC_KEY, "-days", "2", "-config", `${name}.cnf`, "-keyout", `${name}.key`, "-out", `${name}.crt`],
    dir,
  );
  return load(dir, name);
}

/** A certificate for `names` (subjectAltName syntax) signed by the `ca` in `dir`. */
async function signedByCa(
  dir: string,
  name: string,
  commonName: string,
  names: string,
  serial: number,
  usage?: string,
): Promise<KeyPair> {
  await writeFile(join(dir, `${name}.cnf`), config(commonName, LEAF_EXTENSIONS(names, usage)));
  await openssl(["req", "-new", ...EC_KEY, "-config", `${name}.cnf`, "-keyout", `${name}.key`, "-out", `${name}.csr`], dir);
  await openssl(
    [
      "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", String(serial),
      "-days", "2", "-extfile", `${name}.cnf`, "-extensions", "ext", "-out", `${name}.crt`,
    ],
    dir,
  );
  return load(dir, name);
}

/** Makes every test certificate in a new temporary directory. */
export async function makeCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), "wsraw-certs-"));
  try {
    const ca = await selfSigned(dir, "ca", "wsraw test CA", [
      "basicConstraints = critical, CA:TRUE",
      "keyUsage = critical, keyCertSign, cRLSign",
      "subjectKeyIdentifier = hash",
    ]);
    const [localhost, alt, self, client] = await Promise.all([
      signedByCa(dir, "localhost", "localhost", "DNS:localhost, IP:127.0.0.1", 1001),
      signedByCa(dir, "alt", "alt.test", "DNS:alt.test", 1002),
      selfSigned(dir, "self", "localhost", LEAF_EXTENSIONS("DNS:localhost, IP:127.0.0.1")),
      signedByCa(dir, "client", "wsraw test client", "DNS:client.test", 1003, "clientAuth"),
    ]);
    return { dir, ca, localhost, alt, selfSigned: self, client };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Removes the temporary directory (and so every private key) of `certs`. */
export async function removeCerts(certs: TestCerts | undefined): Promise<void> {
  if (certs !== undefined) await rm(certs.dir, { recursive: true, force: true });
}
