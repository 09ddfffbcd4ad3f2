import { isIP } from "node:net";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { ConnectOptions } from "./connect.js";

/**
 * What `tls.connect` is given for `host`: `options.tls`, under the options named at the
 * top level; SNI for a host name, ALPN `alpn` (http/1.1, or h2 for HTTP/2), certificates
 * checked unless told not to.
 * @internal The HTTP/2 client and the trace relay connect with it too.
 */
export function tlsOptions(
  options: Pick<ConnectOptions, "servername" | "ca" | "cert" | "key" | "pfx" | "passphrase" | "rejectUnauthorized" | "tls">,
  host: string,
  port: number,
  alpn: string[] = ["http/1.1"],
): TlsConnectionOptions {
  const { servername, ca, cert, key, pfx, passphrase, rejectUnauthorized } = options;
  const merged: TlsConnectionOptions = { ALPNProtocols: alpn, ...options.tls, host, port };
  for (const [name, value] of Object.entries({ servername, ca, cert, key, pfx, passphrase, rejectUnauthorized })) {
    if (value !== undefined) (merged as Record<string, unknown>)[name] = value;
  }
  // SNI carries a host name, never an IP address (RFC 6066 §3).
  merged.servername ??= isIP(host) === 0 ? host : undefined;
  merged.rejectUnauthorized ??= true;
  return merged;
}

/**
 * Two TLS failures said in words, with the original as `cause` and its `code` kept:
 * OpenSSL's "wrong version number" is what a TLS client reads when the server answered in
 * plain text (a ws:// server's 400); "no application protocol" is a server that speaks
 * none of the protocols offered by ALPN (`alpn`), such as HTTP/1.1 only when h2 was asked.
 */
export function explainTlsError(error: Error & { code?: string; reason?: string }, host: string, alpn = "http/1.1"): Error {
  let message: string;
  if (error.code === "ERR_SSL_WRONG_VERSION_NUMBER") {
    message = `${host} did not answer in TLS (OpenSSL: ${error.reason ?? "wrong version number"}): is it a ws:// server? Connect with ws://`;
  } else if (error.code === "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL") {
    message =
      alpn === "h2"
        ? `${host} does not speak HTTP/2 over TLS (it refused ALPN h2): connect without http2`
        : `${host} refused ALPN ${alpn}: it does not speak that protocol over TLS`;
  } else {
    return error;
  }
  return Object.assign(new Error(message, { cause: error }), { code: error.code });
}
