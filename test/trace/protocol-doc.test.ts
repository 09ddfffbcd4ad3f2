/**
 * docs/protocol.md cannot go stale: it is regenerated from a real session here and must
 * match the committed file. UPDATE_PROTOCOL_DOC=1 rewrites it instead.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LINKS, generateProtocolDoc } from "./protocol-doc.js";

const DOC = fileURLToPath(new URL("../../docs/protocol.md", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("docs/protocol.md", () => {
  it("is what a real session traces today", async () => {
    const generated = await generateProtocolDoc();
    if (process.env.UPDATE_PROTOCOL_DOC === "1") writeFileSync(DOC, generated);
    const committed = readFileSync(DOC, "utf8");
    if (committed !== generated) {
      // The whole diff is in the assertion; the message says how to accept it.
      console.error("docs/protocol.md is stale: regenerate it with UPDATE_PROTOCOL_DOC=1 npx vitest run test/trace/protocol-doc.test.ts");
    }
    expect(committed).toBe(generated);
  });

  it.each(LINKS.map((link) => [`${link.file}: ${link.name}`, link] as const))("links to a function that exists: %s", (_, link) => {
    expect(readFileSync(ROOT + link.file, "utf8")).toMatch(new RegExp(`\\b${link.name}\\b`));
  });
});
