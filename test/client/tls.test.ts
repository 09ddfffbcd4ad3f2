/**
 * TLS on both sides, with certificates made by certs.ts when the tests run:
 *
 * - the client: SNI (the URL's host name, or `servername`) seen by a `node:https` server;
 *   an untrusted certificate refused by default and accepted with `ca` or
 *   `rejectUnauthorized: false`; a certificate for another name refused.
 * - the server (`createServer({ tls })`): garbage, plaintext HTTP, a TLS handshake that
 *   stalls, and a client that refuses its certificate each end cleanly, and a fresh wss
 *   client is served after each; `handleUpgrade` behind `node:https` serves wss:// and a
 *   plain https:// route on one port; `wsraw echo --tls-cert --tls-key` (the CLI, from
 *   dist/: run `npm run build` first when running this file alone).
 * - mutual TLS (`tls: { requestCert: true, ca }`): a client's certificate (`connect`'s
 *   `cert` and `key`) is checked as `tls.createServer` checks it, and `req.tls` shows it;
 *   `SNICallback` picks the certificate.
 */
import { X509Certificate, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { type Server as HttpsServer, createServer as createHttpsServer, get as httpsGet } from "node:https";
import { type AddressInfo, connect as netConnect } from "node:net";
import { join } from "node:path";
import { type TLSSocket, createSecureContext } from "node:tls";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConnectOptions,
  HandshakeError,
  type PeerTls,
  type ServerOptions,
  type WsrawServer,
  connect,
  createServer,
} from "../../src/index.js";
import { echoRoute, runNode, startNode, useResources, within } from "../support/index.js";
import { type KeyPair, type TestCerts, makeCerts, opensslSkip, removeCerts, tlsTitle } from "./certs.js";

const resources = useResources();
const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const TLS_400 = "This port speaks TLS: connect with wss:// (or https://)";
/** The server's handshakeTimeoutMs in the stalled-handshake test. */
const HANDSHAKE_TIMEOUT_MS = 600;
/** Room for a slow, shared machine on top of a time bound. */
const SLACK_MS = 3000;

let certs: TestCerts;

beforeAll(async () => {
  if (opensslSkip === undefined) certs = await makeCerts();
});

afterAll(async () => {
  await removeCerts(certs);
});

/** A wsraw server serving wss:// with `pair`, echoing on /echo; errors reported to handlers go to `errors`. */
async function tlsEcho(pair: KeyPair, options: ServerOptions = {}) {
  const errors: unknown[] = [];
  const { server, port } = await resources.server(
    { "/echo": echoRoute() },
    { tls: { key: pair.key, cert: pair.cert }, closeTimeoutMs: 2000, onError: (error) => errors.push(error), ...options },
  );
  return { server, port, errors, url: (host = "localhost", path = "/echo") => `wss://${host}:${port}${path}` };
}

/** Connects, echoes a text and a binary message, closes cleanly. */
async function expectServes(url: string, options: ConnectOptions = {}): Promise<void> {
  const ws = await within(connect(url, { handshakeTimeoutMs: 5_000, ...options }), 10_000, `a wss client to connect to ${url}`);
  try {
    ws.send("still serving");
    expect(await within(ws.wait(), 10_000, "the echo of a text message")).toBe("still serving");
    ws.send(Buffer.from([0, 1, 0xfe, 0xff]));
    expect(await within(ws.wait(), 10_000, "the echo of a binary message")).toEqual(Buffer.from([0, 1, 0xfe, 0xff]));
  } catch (error) {
    ws.terminate();
    throw error;
  }
  ws.close(1000, "done");
  expect(await within(ws.closed, 10_000, "the close handshake")).toMatchObject({ code: 1000, wasClean: true });
}

/** The error `promise` rejects with (fails if it resolves). */
async function rejection(promise: Promise<{ terminate(): void }>, what: string): Promise<Error & { code?: string }> {
  const outcome = await within(
    promise.then(
      (ws) => {
        ws.terminate();
        return undefined;
      },
      (error: unknown) => error as Error & { code?: string },
    ),
    10_000,
    what,
  );
  if (outcome === undefined) throw new Error(`${what}: expected a rejection, but it connected`);
  return outcome;
}

/** Writes `bytes` (if any) on a new TCP connection and collects all it receives until the server closes it. */
async function rawExchange(port: number, bytes: Buffer, ms = 5_000): Promise<{ received: Buffer; elapsedMs: number }> {
  const socket = netConnect({ port, host: "127.0.0.1" });
  resources.defer(() => socket.destroy());
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {}); // a reset is an end like any other here
  await within(new Promise((resolve) => socket.once("connect", resolve)), 10_000, "a TCP connection");
  const start = performance.now();
  if (bytes.length > 0) socket.write(bytes);
  await within(new Promise((resolve) => socket.once("close", resolve)), ms, `the server to close a connection that sent ${bytes.length} bytes`);
  return { received: Buffer.concat(chunks), elapsedMs: performance.now() - start };
}

/** A node:https server with `wsraw.handleUpgrade` on upgrades and a plain route for the rest. */
async function httpsWithWsraw(pair: KeyPair, options: { SNICallback?: (name: string, cb: (error: Error | null, context?: ReturnType<typeof createSecureContext>) => void) => void } = {}) {
  const wsraw: WsrawServer = createServer({ closeTimeoutMs: 2000 }).route("/echo", echoRoute());
  /** The SNI server name of each upgrade (false: none sent). */
  const upgradeNames: Array<string | false | null> = [];
  const https: HttpsServer = createHttpsServer({ key: pair.key, cert: pair.cert, ...options }, (req, res) => {
    const name = (req.socket as TLSSocket).servername;
    res.writeHead(200, { "Content-Type": "text/plain" }).end(`hello over https on ${req.url}, servername ${name}`);
  });
  https.on("upgrade", (req, socket, head: Buffer) => {
    upgradeNames.push((req.socket as TLSSocket).servername);
    wsraw.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    https.once("error", reject);
    https.listen(0, "127.0.0.1", resolve);
  });
  resources.defer(async () => {
    await wsraw.close();
    https.closeAllConnections();
    await new Promise<void>((resolve) => https.close(() => resolve()));
  });
  const { port } = https.address() as AddressInfo;
  return { https, wsraw, port, upgradeNames };
}

/** GET `url` over https, trusting `ca`. */
function getHttps(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return within(
    new Promise((resolve, reject) => {
      httpsGet(url, { ca, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      }).on("error", reject);
    }),
    10_000,
    `GET ${url}`,
  );
}

describe.skipIf(opensslSkip !== undefined)(tlsTitle("connect() over wss://: SNI and certificate checks"), () => {
  it("sends the URL's host name as SNI; servername overrides it for SNI and the certificate check; none for an IP", async () => {
    const altContext = createSecureContext({ key: certs.alt.key, cert: certs.alt.cert });
    const sniNames: string[] = [];
    const { port, upgradeNames } = await httpsWithWsraw(certs.localhost, {
      SNICallback: (name, cb) => {
        sniNames.push(name);
        // alt.test gets its own certificate; any other name the default (localhost's).
        cb(null, name === "alt.test" ? altContext : undefined);
      },
    });
    const ca = certs.ca.cert;

    await expectServes(`wss://localhost:${port}/echo`, { ca });
    expect(upgradeNames).toEqual(["localhost"]);

    // Only alt.test's certificate verifies for servername alt.test: the server must have
    // chosen it from the SNI, and the client checked it against alt.test, not 127.0.0.1.
    await expectServes(`wss://127.0.0.1:${port}/echo`, { ca, servername: "alt.test" });
    expect(upgradeNames).toEqual(["localhost", "alt.test"]);

    // No SNI for an IP address (RFC 6066 §3); the certificate's IP:127.0.0.1 verifies.
    await expectServes(`wss://127.0.0.1:${port}/echo`, { ca });
    expect(upgradeNames).toEqual(["localhost", "alt.test", false]);
    expect(sniNames).toEqual(["localhost", "alt.test"]);
  });

  it("refuses an untrusted (self-signed) certificate by default; accepts it with ca or rejectUnauthorized: false", async () => {
    const { server, url, errors } = await tlsEcho(certs.selfSigned);
    const refused = await rejection(connect(url(), { handshakeTimeoutMs: 5_000 }), "connect() to a self-signed server");
    expect(refused.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    expect(refused).not.toBeInstanceOf(HandshakeError);
    // Also through 127.0.0.1, where no SNI is sent.
    const byIp = await rejection(connect(url("127.0.0.1"), { handshakeTimeoutMs: 5_000 }), "connect() by IP");
    expect(byIp.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    expect(server.connections).toBe(0);

    // A CA that is not the one that signed it does not help either.
    const otherCa = await rejection(connect(url(), { ca: certs.ca.cert, handshakeTimeoutMs: 5_000 }), "connect() with another CA");
    expect(otherCa.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);

    await expectServes(url(), { ca: certs.selfSigned.cert });
    await expectServes(url(), { rejectUnauthorized: false });
    expect(errors).toEqual([]);
  });

  it("refuses a certificate for another host name, even from a trusted CA", async () => {
    const { url, errors } = await tlsEcho(certs.alt);
    const ca = certs.ca.cert;
    const byName = await rejection(connect(url("localhost"), { ca, handshakeTimeoutMs: 5_000 }), "connect() to localhost");
    expect(byName.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    const byIp = await rejection(connect(url("127.0.0.1"), { ca, handshakeTimeoutMs: 5_000 }), "connect() to 127.0.0.1");
    expect(byIp.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    // The name is what was wrong: with the certificate's own name as servername it verifies.
    await expectServes(url("127.0.0.1"), { ca, servername: "alt.test" });
    expect(errors).toEqual([]);
  });
});

describe.skipIf(opensslSkip !== undefined)(tlsTitle("connect()'s tls: any other tls.connect option"), () => {
  it("checkServerIdentity pins a certificate: the wrong fingerprint is refused with its error, the right one served", async () => {
    const { url, errors } = await tlsEcho(certs.localhost);
    const pinned = new X509Certificate(certs.localhost.cert).fingerprint256;
    const pin = (expected: string) => ({
      checkServerIdentity: (_host: string, cert: { fingerprint256: string }) =>
        cert.fingerprint256 === expected ? undefined : new Error(`certificate ${cert.fingerprint256} is not the pinned one`),
    });
    const refused = await rejection(connect(url(), { ca: certs.ca.cert, tls: pin("00:11") }), "a client pinning another certificate");
    expect(refused.message).toMatch(/is not the pinned one/);
    await expectServes(url(), { ca: certs.ca.cert, tls: pin(pinned) });
    expect(errors).toEqual([]);
  });

  it("takes ca and rejectUnauthorized there too; the same option at the top level wins", async () => {
    const { url } = await tlsEcho(certs.selfSigned);
    await expectServes(url(), { tls: { ca: certs.selfSigned.cert } });
    await expectServes(url(), { tls: { rejectUnauthorized: false } });
    const refused = await rejection(
      connect(url(), { tls: { rejectUnauthorized: false }, rejectUnauthorized: true, handshakeTimeoutMs: 5_000 }),
      "rejectUnauthorized: true over tls: { rejectUnauthorized: false }",
    );
    expect(refused.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    await expectServes(url(), { tls: { minVersion: "TLSv1.3" }, ca: certs.selfSigned.cert });
  });
});

describe.skipIf(opensslSkip !== undefined)(tlsTitle("createServer({ tls }): bad input ends cleanly and the server keeps serving"), () => {
  it("garbage: a broken TLS record gets an alert and a close; non-TLS bytes get the 400", async () => {
    const { server, port, url, errors } = await tlsEcho(certs.localhost);
    const ca = certs.ca.cert;

    // A handshake record (0x16) whose content is not a ClientHello.
    const broken = await rawExchange(port, Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), randomBytes(64)]));
    expect(broken.received.length, "a TLS alert record").toBeGreaterThan(0);
    expect(broken.received[0], "a TLS alert record (content type 21)").toBe(0x15);

    // Random bytes (first byte not 0x16: not TLS) are refused as plaintext.
    for (let i = 0; i < 5; i++) {
      const garbage = randomBytes(2048);
      if (garbage[0] === 0x16) garbage[0] = 0x17;
      const { received } = await rawExchange(port, garbage);
      expect(received.toString("latin1")).toMatch(/^HTTP\/1\.1 400 /);
    }
    // And random bytes after a TLS record header: a fatal alert or a plain close, never a hang.
    for (let i = 0; i < 5; i++) {
      const { received } = await rawExchange(port, Buffer.concat([Buffer.from([0x16, 0x03, 0x03, 0x00, 0x10]), randomBytes(4096)]));
      if (received.length > 0) expect(received[0]).toBe(0x15);
    }

    await expectServes(url(), { ca });
    expect(server.connections).toBe(0);
    expect(errors).toEqual([]);
  });

  it("plaintext HTTP and a ws:// client on the TLS port get a 400 saying to use wss://", async () => {
    const { port, url, errors } = await tlsEcho(certs.localhost);

    const plain = await rawExchange(port, Buffer.from("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "latin1"));
    const text = plain.received.toString("utf8");
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain(TLS_400);

    const error = await rejection(connect(`ws://127.0.0.1:${port}/echo`, { handshakeTimeoutMs: 5_000 }), "a ws:// client on the TLS port");
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(400);
    expect((error as HandshakeError).body.toString("utf8")).toContain(TLS_400);

    await expectServes(url(), { ca: certs.ca.cert });
    expect(errors).toEqual([]);
  });

  it("a wss:// client on a plain port fails at once, not at the server's timeout, and the server keeps serving", async () => {
    const { port } = await resources.server({ "/echo": echoRoute() }, { handshakeTimeoutMs: 20_000 });
    const start = performance.now();
    const error = await rejection(connect(`wss://127.0.0.1:${port}/echo`, { handshakeTimeoutMs: 15_000, rejectUnauthorized: false }), "a wss:// client on a plain port");
    // The server answers the ClientHello's first byte with a 400, which TLS reads as a bad
    // record; connect() says what that means, keeping OpenSSL's code and error.
    expect(error.message).toBe(`127.0.0.1:${port} did not answer in TLS (OpenSSL: wrong version number): is it a ws:// server? Connect with ws://`);
    expect(error.code).toBe("ERR_SSL_WRONG_VERSION_NUMBER");
    expect((error.cause as Error).message).toMatch(/wrong version number/);
    expect(performance.now() - start).toBeLessThan(SLACK_MS);

    const hello = await rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]));
    expect(hello.received.toString("latin1")).toMatch(/^HTTP\/1\.1 400 [^]*TLS handshake/);
    const ws = await within(connect(`ws://127.0.0.1:${port}/echo`), 10_000, "a ws:// client");
    ws.send("after");
    expect(await within(ws.wait(), 10_000, "the echo")).toBe("after");
    ws.terminate();
  });

  it(`a TLS handshake that stalls is closed after handshakeTimeoutMs (${HANDSHAKE_TIMEOUT_MS} ms), without holding up others`, async () => {
    const { server, port, url, errors } = await tlsEcho(certs.localhost, { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS });
    // One connection sends nothing; one sends the start of a handshake record announcing
    // 512 bytes, then stalls.
    const silent = rawExchange(port, Buffer.alloc(0), HANDSHAKE_TIMEOUT_MS + SLACK_MS);
    const partial = rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]), HANDSHAKE_TIMEOUT_MS + SLACK_MS);
    // Meanwhile a real client is served at once.
    await expectServes(url(), { ca: certs.ca.cert });
    for (const [name, result] of [["silent", await silent], ["partial", await partial]] as const) {
      expect(result.elapsedMs, `${name}: not before the timeout`).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 50);
      expect(result.elapsedMs, `${name}: soon after it`).toBeLessThan(HANDSHAKE_TIMEOUT_MS + SLACK_MS);
      expect(result.received.length, `${name}: nothing sent back`).toBe(0);
    }
    await expectServes(url(), { ca: certs.ca.cert });
    expect(server.connections).toBe(0);
    expect(errors).toEqual([]);
  });

  it("createServer refuses tls without a certificate and its key, and a key that is not one", () => {
    for (const tls of [{}, { key: certs.localhost.key }, { cert: certs.localhost.cert }]) {
      expect(() => createServer({ tls })).toThrow(new TypeError("tls needs a certificate and its key: key and cert (PEM), or pfx"));
    }
    expect(() => createServer({ tls: { key: "not a key", cert: certs.localhost.cert } })).toThrow(/PEM|DECODER/);
  });

  it("a client that refuses the server's certificate fails alone; the next client is served", async () => {
    const { server, url, errors } = await tlsEcho(certs.localhost);
    // Node's default CAs do not include the test CA.
    const refused = await rejection(connect(url(), { handshakeTimeoutMs: 5_000 }), "a client without the test CA");
    expect(refused.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    // Refused for the name: another valid certificate, but not for this host.
    const wrongName = await rejection(
      connect(url("127.0.0.1"), { ca: certs.ca.cert, servername: "alt.test", handshakeTimeoutMs: 5_000 }),
      "a client expecting alt.test",
    );
    expect(wrongName.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    expect(server.connections).toBe(0);
    await expectServes(url(), { ca: certs.ca.cert });
    await expectServes(url("127.0.0.1"), { ca: certs.ca.cert });
    expect(errors).toEqual([]);
  });
});

describe.skipIf(opensslSkip !== undefined)(tlsTitle("createServer({ tls }) as tls.createServer: client certificates (connect's cert and key), SNI"), () => {
  /** A wss:// server asking for client certificates; `authorize` records each `req.tls` it sees. */
  async function mutualTls(tls: ServerOptions["tls"] = {}) {
    const seen: Array<PeerTls | undefined> = [];
    const { port } = await resources.server(
      { "/echo": echoRoute() },
      {
        tls: { key: certs.localhost.key, cert: certs.localhost.cert, ca: certs.ca.cert, requestCert: true, ...tls },
        authorize: (req) => {
          seen.push(req.tls);
          return true;
        },
      },
    );
    return { seen, url: `wss://localhost:${port}/echo` };
  }
  const trusting = { ca: certs?.ca.cert, handshakeTimeoutMs: 5_000 };

  it("serves a client whose certificate the ca signed, and req.tls shows who it is", async () => {
    const { seen, url } = await mutualTls();
    await expectServes(url, { ...trusting, ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key });
    expect(seen).toHaveLength(1);
    const tls = seen[0]!;
    expect(tls).toMatchObject({ authorized: true, authorizationError: undefined, servername: "localhost" });
    expect(tls.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(tls.certificate?.subject.CN).toBe("wsraw test client");
    expect(tls.certificate?.issuer.CN).toBe("wsraw test CA");
  });

  it("refuses, as tls.createServer does, a client without a certificate or with one the ca did not sign", async () => {
    const { seen, url } = await mutualTls();
    await rejection(connect(url, { ...trusting, ca: certs.ca.cert }), "a client without a certificate");
    await rejection(
      connect(url, { ...trusting, ca: certs.ca.cert, cert: certs.selfSigned.cert, key: certs.selfSigned.key }),
      "a client with a self-signed certificate",
    );
    expect(seen, "no refused client reached authorize").toEqual([]);
    await expectServes(url, { ...trusting, ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key });
    expect(seen).toHaveLength(1);
  });

  it("with rejectUnauthorized: false serves them all, and req.tls says which did not verify and why", async () => {
    const { seen, url } = await mutualTls({ rejectUnauthorized: false });
    await expectServes(url, { ...trusting, ca: certs.ca.cert });
    await expectServes(url, { ...trusting, ca: certs.ca.cert, cert: certs.selfSigned.cert, key: certs.selfSigned.key });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ authorized: false, certificate: undefined });
    expect(seen[0]!.authorizationError).toMatch(/^[A-Z_]{6,}$/);
    expect(seen[1]).toMatchObject({ authorized: false });
    // An OpenSSL code: this leaf is for servers and not from the ca (INVALID_PURPOSE comes first).
    expect(seen[1]!.authorizationError).toMatch(/^[A-Z_]{6,}$/);
    expect(seen[1]!.certificate?.subject.CN).toBe("localhost");
  });

  it("SNICallback picks the certificate by the name the client asks for, which req.tls shows", async () => {
    const seen: Array<PeerTls | undefined> = [];
    const alt = createSecureContext({ key: certs.alt.key, cert: certs.alt.cert });
    const { port } = await resources.server(
      { "/echo": echoRoute() },
      {
        tls: {
          key: certs.localhost.key,
          cert: certs.localhost.cert,
          SNICallback: (name, done) => done(null, name === "alt.test" ? alt : undefined),
        },
        authorize: (req) => (seen.push(req.tls), true),
      },
    );
    await expectServes(`wss://127.0.0.1:${port}/echo`, { ...trusting, ca: certs.ca.cert, servername: "alt.test" });
    await expectServes(`wss://localhost:${port}/echo`, { ...trusting, ca: certs.ca.cert });
    expect(seen.map((tls) => tls?.servername)).toEqual(["alt.test", "localhost"]);
  });

  it("req.tls is undefined over plain TCP", async () => {
    const seen: unknown[] = [];
    const { port } = await resources.server({ "/echo": echoRoute() }, { authorize: (req) => (seen.push(req.tls), true) });
    await expectServes(`ws://127.0.0.1:${port}/echo`);
    expect(seen).toEqual([undefined]);
  });
});

describe.skipIf(opensslSkip !== undefined)(tlsTitle("wss:// through node:https and the CLI"), () => {
  it("handleUpgrade behind node:https serves wss://, and a plain https:// route on the same port", async () => {
    const { port, wsraw, upgradeNames } = await httpsWithWsraw(certs.localhost);
    const ca = certs.ca.cert;
    const before = await getHttps(`https://localhost:${port}/hello`, ca);
    expect(before).toEqual({ status: 200, body: "hello over https on /hello, servername localhost" });

    const ws = await within(connect(`wss://localhost:${port}/echo`, { ca }), 10_000, "a wss client through node:https");
    expect(wsraw.connections).toBe(1);
    ws.send("through https");
    expect(await within(ws.wait(), 10_000, "the echo")).toBe("through https");
    // The https route answers while the WebSocket is open.
    expect((await getHttps(`https://localhost:${port}/again`, ca)).status).toBe(200);
    const big = Buffer.alloc(70_000, 7);
    ws.send(big);
    const echoed = await within(ws.wait(), 10_000, "the echo of 70,000 bytes");
    // Buffer.equals: a deep toEqual over 70,000 elements takes half a second.
    expect(Buffer.isBuffer(echoed) && big.equals(echoed)).toBe(true);
    ws.close(1000, "bye");
    expect(await within(ws.closed, 10_000, "the close")).toMatchObject({ code: 1000, wasClean: true });
    expect(upgradeNames).toEqual(["localhost"]);

    // A path wsraw does not serve is answered (404) through the https socket.
    const missing = await rejection(connect(`wss://localhost:${port}/nowhere`, { ca }), "an unknown path");
    expect(missing).toBeInstanceOf(HandshakeError);
    expect((missing as HandshakeError).status).toBe(404);
    await within(
      (async () => {
        while (wsraw.connections !== 0) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      10_000,
      "wsraw to forget the closed connection",
    );
  });

  describe("the CLI", () => {
    beforeAll(() => {
      if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);
    });

    it("wsraw echo --tls-cert --tls-key echoes over wss:// and refuses plaintext with the 400", async () => {
      const { match, child } = await startNode(
        resources,
        [CLI, "echo", "--port", "0", "--tls-cert", certs.localhost.certFile, "--tls-key", certs.localhost.keyFile],
        /wsraw echo: listening on wss:\/\/127\.0\.0\.1:(\d+)\//,
      );
      expect(child.pid).toBeGreaterThan(0);
      const port = Number(match[1]);
      const ca = certs.ca.cert;
      await expectServes(`wss://localhost:${port}/any/path?x=1`, { ca });
      // The CLI accepts permessage-deflate unless --no-deflate.
      const ws = await within(connect(`wss://127.0.0.1:${port}/`, { ca, perMessageDeflate: true }), 10_000, "a deflate client");
      expect(ws.extensions).toMatch(/^permessage-deflate(;|$)/);
      const big = "compressible ".repeat(100_000);
      ws.send(big);
      expect((await within(ws.wait(), 10_000, "the echo of 1.3 MB")) === big).toBe(true);
      ws.close();
      expect((await within(ws.closed, 10_000, "the close")).code).toBe(1000);
      // An untrusted client is refused; plaintext gets the 400.
      const refused = await rejection(connect(`wss://localhost:${port}/`, { handshakeTimeoutMs: 5_000 }), "a client without the CA");
      expect(refused.code).toMatch(/UNABLE_TO_VERIFY/);
      const plain = await rawExchange(port, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      expect(plain.received.toString("utf8")).toContain(TLS_400);
      await expectServes(`wss://localhost:${port}/`, { ca });
    });

    it("wsraw demo --tls-cert --tls-key serves the page over https:// and /echo over wss://", async () => {
      const { match } = await startNode(
        resources,
        [CLI, "demo", "--port", "0", "--tls-cert", certs.localhost.certFile, "--tls-key", certs.localhost.keyFile],
        /wsraw demo: open https:\/\/127\.0\.0\.1:(\d+)\//,
      );
      const port = Number(match[1]);
      const page = await getHttps(`https://localhost:${port}/`, certs.ca.cert);
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/<html/i);
      await expectServes(`wss://localhost:${port}/echo`, { ca: certs.ca.cert });
    });

    it("--tls-cert without --tls-key, or an unreadable file, is refused with the usage", async () => {
      const alone = await runNode([CLI, "echo", "--port", "0", "--tls-cert", certs.localhost.certFile]);
      expect(alone.code).toBe(2);
      expect(alone.stderr).toContain("--tls-cert and --tls-key go together");
      const missing = join(certs.dir, "no-such.key");
      const unreadable = await runNode([CLI, "echo", "--port", "0", "--tls-cert", certs.localhost.certFile, "--tls-key", missing]);
      expect(unreadable.code).toBe(2);
      expect(unreadable.stderr).toContain(missing);
    });
  });
});
