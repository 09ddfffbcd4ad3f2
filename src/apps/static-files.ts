import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { type Route, httpOnly } from "../server/index.js";

/** The package's root folder, from `src/apps/` and from `dist/apps/` alike. */
const PACKAGE_ROOT = new URL("../../", import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** Reads a file of the package (path relative to its root) once, at start-up. */
export function packageFile(path: string): { body: Buffer; contentType: string } {
  const body = readFileSync(fileURLToPath(new URL(path, PACKAGE_ROOT)));
  return { body, contentType: CONTENT_TYPES[extname(path)] ?? "application/octet-stream" };
}

/** A plain HTTP route that serves one file of the package from memory. */
export function fileRoute(path: string): Route {
  const { body, contentType } = packageFile(path);
  return httpOnly(() => ({
    status: 200,
    headers: { "Content-Type": contentType, "Cache-Control": "no-cache" },
    body,
  }));
}
