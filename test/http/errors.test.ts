import { describe, expect, it } from "vitest";
import { HttpError } from "../../src/http/errors.js";

describe("HttpError", () => {
  it("carries status, message, headers and its name", () => {
    const error = new HttpError(405, "Use GET", { Allow: "GET" });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("HttpError");
    expect(error.status).toBe(405);
    expect(error.message).toBe("Use GET");
    expect(error.headers).toEqual({ Allow: "GET" });
    expect(String(error)).toBe("HttpError: Use GET");
  });

  it("defaults to no extra headers", () => {
    expect(new HttpError(400, "Bad").headers).toEqual({});
  });
});
