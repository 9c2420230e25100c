import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.js";
import { checkAddress } from "../../src/scale/temporal-cli.js";

describe("a Temporal server's address", () => {
  it("is HOST:PORT, a port from 1 to 65535; anything else is bad input saying so", () => {
    expect(checkAddress("127.0.0.1:7233")).toBe("127.0.0.1:7233");
    expect(checkAddress("temporal.internal:7233")).toBe("temporal.internal:7233");
    expect(checkAddress("[::1]:7233")).toBe("[::1]:7233");
    for (const bad of ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "http://127.0.0.1:7233", "a b:1"])
      expect(() => checkAddress(bad), bad).toThrow(InvalidInputError);
    expect(() => checkAddress("localhost")).toThrow(/is not HOST:PORT/);
  });
});
