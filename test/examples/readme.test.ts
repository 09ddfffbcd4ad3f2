/**
 * Every ```ts block of README.md compiles against the built package, as a user's file
 * would: each block is a module of a project in a temporary folder in which `wsraw`
 * resolves to this repository (through its package.json "exports", to dist/), under
 * strict TypeScript. A block may use what README_SCOPE declares (the server of "Using
 * it", a handler, the application's token check, a TLS key pair) without declaring it;
 * anything else it must import, as the first block does. A new block is checked as soon
 * as it is written: nothing to register.
 *
 * Needs dist/ (`npm test` builds it; `npm run build` first when running this file alone).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { run } from "../support/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

/** What the README's fragments take as already there (a script: these are globals, which a block's own declarations shadow). */
const README_SCOPE = `
declare const server: import("wsraw").WsrawServer;
declare const handler: (req: import("wsraw").UpgradedRequest) => Promise<void>;
declare function checkToken(token: string | null): Promise<{ id: string } | undefined>;
declare const key: Buffer, cert: Buffer; // a TLS key pair, read as in "wss://"
declare const createServer: typeof import("wsraw").createServer;
declare const acceptWebSocket: typeof import("wsraw").acceptWebSocket;
declare const requireWebSocket: typeof import("wsraw").requireWebSocket;
`;

/** The ```ts blocks of `markdown`, each with the line of its opening fence. */
export function typescriptBlocks(markdown: string): Array<{ line: number; code: string }> {
  const blocks: Array<{ line: number; code: string }> = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    // A block may be indented (inside a list item): the indentation is not the code's.
    const indent = /^( *)```(ts|typescript)\s*$/.exec(lines[i])?.[1];
    if (indent === undefined) continue;
    const start = i;
    const code: string[] = [];
    for (i++; i < lines.length && !/^ *```\s*$/.test(lines[i]); i++) {
      code.push(lines[i].startsWith(indent) ? lines[i].slice(indent.length) : lines[i]);
    }
    if (i === lines.length) throw new Error(`README.md:${start + 1}: the block is never closed`);
    blocks.push({ line: start + 1, code: code.join("\n") });
  }
  return blocks;
}

let temp: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "index.d.ts"))) {
    throw new Error("dist/ is missing: run `npm run build` first (npm test does it)");
  }
  temp = mkdtempSync(join(tmpdir(), "wsraw-readme-"));
  writeFileSync(join(temp, "package.json"), JSON.stringify({ name: "readme-blocks", private: true, type: "module" }));
  // `wsraw` is this repository; `redis` and `@types/node` stand for the user's own installs.
  for (const [name, target] of [
    ["wsraw", ROOT],
    ["redis", join(ROOT, "node_modules", "redis")],
    ["@types/node", join(ROOT, "node_modules", "@types", "node")],
  ]) {
    mkdirSync(dirname(join(temp, "node_modules", name)), { recursive: true });
    symlinkSync(target, join(temp, "node_modules", name), "dir");
  }
});

afterAll(() => {
  if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
});

it("finds the README's TypeScript blocks, and an unclosed one is an error", () => {
  expect(typescriptBlocks("a\n```ts\nconst x = 1;\n```\n```sh\nls\n```\n```ts\nlet y;\n```\n")).toEqual([
    { line: 2, code: "const x = 1;" },
    { line: 8, code: "let y;" },
  ]);
  expect(typescriptBlocks("- item:\n\n  ```ts\n  if (a) {\n    b();\n  }\n  ```\n")).toEqual([
    { line: 3, code: "if (a) {\n  b();\n}" },
  ]);
  expect(() => typescriptBlocks("```ts\nconst x = 1;\n")).toThrow(/README.md:1: the block is never closed/);
  expect(typescriptBlocks(readFileSync(join(ROOT, "README.md"), "utf8")).length).toBeGreaterThanOrEqual(5);
});

it("every ```ts block of README.md compiles against the package under strict TypeScript", async () => {
  const blocks = typescriptBlocks(readFileSync(join(ROOT, "README.md"), "utf8"));
  writeFileSync(join(temp, "readme-scope.d.ts"), README_SCOPE);
  for (const { line, code } of blocks) {
    // `export {}` makes each block a module of its own, as a user's file is.
    writeFileSync(join(temp, `block-${line}.ts`), `${code}\nexport {};\n`);
  }
  writeFileSync(
    join(temp, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2022"],
        types: ["node"],
        strict: true,
        noEmit: true,
        skipLibCheck: true, // the package's .d.ts files are checked by test/package
      },
      include: ["*.ts"],
    }),
  );
  const result = await run(process.execPath, [TSC, "-p", temp, "--pretty", "false"], { cwd: temp, timeoutMs: 55_000 });
  // block-L.ts(l,c): error ... is README.md line L + l.
  const errors = (result.stdout + result.stderr)
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) =>
      line.replace(/^block-(\d+)\.ts\((\d+),(\d+)\)/, (_, fence, row, column) => `README.md:${Number(fence) + Number(row)}:${column}`),
    );
  expect(errors).toEqual([]);
  expect(result.code).toBe(0);
}, 60_000);
