import { z } from "zod";
import { parseDuration, parsePercent, parseRate } from "../units.js";

// Field types shared by the experiment and check schemas: each accepts the text an SRE would
// write ("150ms", "100/s", "50%") and yields a number in the unit the code works in.

export const duration = (example = '"150ms", "30s" or "2m"') =>
  z.string({ error: `expected a duration such as ${example}` }).transform((text, ctx) => {
    const value = parseDuration(text);
    if (value === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as ${example}, got "${text}"` });
      return z.NEVER;
    }
    return value;
  });

/** The HTTP methods a request (load, probe, route fault) may name. */
export const httpMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
/** An HTTP header name (RFC 9110's token). */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const weight = z.number().min(0, { message: "expected a weight of 0 or more" });

export const rate = z.string({ error: 'expected a rate such as "100/s"' }).transform((text, ctx) => {
  const value = parseRate(text);
  if (value === undefined || value <= 0) {
    ctx.addIssue({ code: "custom", message: `expected a rate such as "100/s" or "6000/m", got "${text}"` });
    return z.NEVER;
  }
  return value;
});

export const share = z.string({ error: 'expected a percentage such as "50%"' }).transform((text, ctx) => {
  const value = parsePercent(text);
  if (value === undefined || value <= 0 || value > 1) {
    ctx.addIssue({
      code: "custom",
      message: `expected a percentage above "0%" and at most "100%", got "${text}"`,
    });
    return z.NEVER;
  }
  return value;
});
