/**
 * Structured logging: one JSON object per line on stdout (journald reads it as is), or readable
 * text on a TTY. Fields are flat key/values; never pass secrets (nothing here redacts them).
 */
export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LogOptions {
  level?: Level;
  format?: "auto" | "json" | "text";
  /** Where lines go; defaults to stdout. Tests pass a collector. */
  sink?: (line: string) => void;
}

const enc = new TextEncoder();
function stdoutSink(line: string): void {
  Deno.stdout.writeSync(enc.encode(line + "\n"));
}

function textValue(v: unknown): string {
  if (typeof v === "string") return /\s/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return JSON.stringify(v);
}

export function createLogger(opts: LogOptions = {}, base: Record<string, unknown> = {}): Logger {
  const min = RANK[opts.level ?? "info"];
  const sink = opts.sink ?? stdoutSink;
  const format = opts.format === "auto" || opts.format === undefined
    ? (Deno.stdout.isTerminal() ? "text" : "json")
    : opts.format;
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min) return;
    const all = { ...base, ...fields };
    if (format === "json") {
      sink(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...all }));
    } else {
      // Absent fields are left out, as JSON.stringify does for the json format.
      const kv = Object.entries(all).filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`).join(" ");
      const t = new Date().toISOString().slice(11, 23);
      sink(`${t} ${level.toUpperCase().padEnd(5)} ${msg}${kv ? " " + kv : ""}`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (f) => createLogger(opts, { ...base, ...f }),
  };
}

/** A logger that drops everything (library defaults, benchmarks). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
