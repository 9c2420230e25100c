import ms from "ms";

// Units in experiments are strings ("150ms", "30s", "2m", "1%", "200/s") so a file reads the
// way an SRE says it. Each parser returns undefined for input it does not accept; the schema
// turns that into a located error.

const DURATION = /^\s*\d+(\.\d+)?\s*(ms|s|m|h)\s*$/;

/** Parses "150ms", "30s", "1.5s", "2m", "1h" into milliseconds. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  const value = ms(text.replace(/\s+/g, "") as ms.StringValue);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** A threshold may also be in days ("7d"): the time until a certificate expires. */
export function parseThresholdDuration(text: string): number | undefined {
  const days = /^\s*(\d+(?:\.\d+)?)\s*d\s*$/.exec(text)?.[1];
  return days === undefined ? parseDuration(text) : Number(days) * 86_400_000;
}

/** Parses "1%", "0.5%" into a fraction (0.01, 0.005). */
export function parsePercent(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  if (!match?.[1]) return undefined;
  return Number(match[1]) / 100;
}

/** Parses "200/s", "100/1s", "6000/m" into requests per second. */
export function parseRate(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d*(?:\.\d+)?\s*(?:ms|s|m|h))\s*$/.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  const per = /^\d/.test(match[2]) ? parseDuration(match[2]) : parseDuration(`1${match[2]}`);
  if (per === undefined || per === 0) return undefined;
  return (Number(match[1]) * 1000) / per;
}

const BANDWIDTH_UNITS: Record<string, number> = {
  "b/s": 1,
  "kb/s": 1000,
  "mb/s": 1_000_000,
  "gb/s": 1_000_000_000,
  "bit/s": 1 / 8,
  "kbit/s": 1000 / 8,
  "mbit/s": 1_000_000 / 8,
  "gbit/s": 1_000_000_000 / 8,
};

/** Parses "100KB/s", "1.5MB/s", "8Mbit/s" into bytes per second (decimal units, as networks count). */
export function parseBandwidth(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?(?:b|bit)\/s)\s*$/i.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  const unit = match[2].toLowerCase();
  const factor = BANDWIDTH_UNITS[unit];
  // "B" is bytes and "bit" bits; a lone lowercase "b" is ambiguous, so only "B" is accepted.
  if (factor === undefined || (/b\/s$/.test(match[2]) && !/bit\/s$/i.test(match[2]))) return undefined;
  return Number(match[1]) * factor;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Parses "256MB", "512MiB", "1GB" into bytes. */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)\s*$/.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  const factor = BYTE_UNITS[match[2].toLowerCase()];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor);
}

export function formatDuration(milliseconds: number): string {
  if (milliseconds === 0) return "0s";
  // A certificate that expired a day ago is -1d to its expiry.
  if (milliseconds < 0) return `-${formatDuration(-milliseconds)}`;
  if (milliseconds < 1000) return `${Math.round(milliseconds)}ms`;
  const seconds = milliseconds / 1000;
  if (seconds < 120) return `${Number(seconds.toFixed(1))}s`;
  // A certificate's time to expiry reads in days.
  if (seconds >= 2 * 86_400) return `${Number((seconds / 86_400).toFixed(1))}d`;
  return `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`;
}
