import { describe, expect, it } from "vitest";
import {
  formatDuration,
  parseBandwidth,
  parseBytes,
  parseDuration,
  parsePercent,
  parseRate,
} from "../../src/units.js";

describe("parseDuration", () => {
  it.each([
    ["150ms", 150],
    ["30s", 30_000],
    ["1.5s", 1500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    [" 10 s ", 10_000],
    ["0s", 0],
  ])("%s is %d ms", (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it.each(["", "150", "-5s", "fast", "10 minutes", "1d", "5sec", "1e3ms"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("parsePercent", () => {
  it.each([
    ["1%", 0.01],
    ["0.5%", 0.005],
    ["100%", 1],
    ["0%", 0],
  ])("%s is %d", (text, expected) => {
    expect(parsePercent(text)).toBeCloseTo(expected, 10);
  });

  it.each(["1", "%", "-1%", "one%", "1 %%"])("rejects %j", (text) => {
    expect(parsePercent(text)).toBeUndefined();
  });
});

describe("parseRate", () => {
  it.each([
    ["200/s", 200],
    ["100/1s", 100],
    ["6000/m", 100],
    ["50/500ms", 100],
    ["1.5/s", 1.5],
  ])("%s is %d per second", (text, expected) => {
    expect(parseRate(text)).toBeCloseTo(expected, 10);
  });

  it.each(["200", "/s", "200/", "200/0s", "fast/s", "200 per second"])("rejects %j", (text) => {
    expect(parseRate(text)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it("formats milliseconds, seconds and minutes", () => {
    expect(formatDuration(150)).toBe("150ms");
    expect(formatDuration(2500)).toBe("2.5s");
    expect(formatDuration(185_000)).toBe("3m5s");
  });
});

describe("parseBytes", () => {
  it.each([
    ["256MB", 256_000_000],
    ["512MiB", 512 * 1024 * 1024],
    ["1.5GB", 1_500_000_000],
    ["10KB", 10_000],
  ])("%s is %d bytes", (text, expected) => {
    expect(parseBytes(text)).toBe(expected);
  });

  it.each(["256", "256mb", "lots", "1 TB"])("rejects %j", (text) => {
    expect(parseBytes(text)).toBeUndefined();
  });
});

describe("parseBandwidth", () => {
  it.each([
    ["100KB/s", 100_000],
    ["1.5MB/s", 1_500_000],
    ["8Mbit/s", 1_000_000],
    ["64kbit/s", 8000],
    ["500B/s", 500],
  ])("%s is %d bytes per second", (text, expected) => {
    expect(parseBandwidth(text)).toBeCloseTo(expected, 6);
  });

  it.each(["100", "100KB", "fast/s", "100kb/s", "10 MB per second"])("rejects %j", (text) => {
    expect(parseBandwidth(text)).toBeUndefined();
  });
});
