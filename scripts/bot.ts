/**
 * `deno task bot <command> …` launcher: runs `src/main.ts` under the product's narrow permission
 * set ({@link BASE_FLAGS}, the same set the compiled binary bakes in, plus `src` and
 * `node_modules` to read the sources) widened by exactly the paths named on the command line:
 *  - an argument that is an existing file or folder (an `import` CSV, `--contracts`, `--config`,
 *    `--model`, a `replay` recording, …) becomes readable;
 *  - a database (`--db P`, or an argument ending in .db / .sqlite) and an output folder
 *    (`--out P`) become readable and writable, the database with its folder (SQLite writes its
 *    -wal / -shm files beside it and `collect` creates the folder).
 * Nothing else is added: a daemon started from source reads and writes what the binary would, plus
 * what the user named. The launcher itself needs read (to look at the arguments), run (to start
 * Deno) and nothing more; it forwards SIGINT, SIGTERM and SIGUSR1 to the command and exits with
 * its code.
 */
import { dirname } from "node:path";

/** The compiled binary's permission flags (deno.json `compile:*` tasks). */
export const BASE_FLAGS = [
  "--allow-net=api.bitget.com,ws.bitget.com,wspap.bitget.com,discord.com,127.0.0.1",
  "--allow-env=BITGET_*,LOG_TOKENS,LOG_STREAM,DISCORD_WEBHOOK_URL,ALERT_WEBHOOK_URL",
  "--allow-sys=hostname",
  "--unstable-worker-options",
];
export const BASE_READ = ["data", "models", "config.yaml", "sample", "backtests"];
export const BASE_WRITE = ["data", "models", "backtests"];
/** From source the code itself must be readable too. */
const SOURCE_READ = ["src", "node_modules"];

const OUTPUT_OPTIONS = new Set(["--db", "--out"]);
const isDb = (p: string) => /\.(db|sqlite3?)$/i.test(p);

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * The extra read and write paths the arguments name (see module doc). Values containing a comma
 * cannot be expressed in an --allow-* list and are left out (the command then reports the access
 * error itself).
 */
export function namedPaths(args: string[]): { read: string[]; write: string[] } {
  const read = new Set<string>(), write = new Set<string>();
  const output = (p: string) => {
    const dir = isDb(p) ? dirname(p) : p;
    for (const x of [p, dir]) {
      read.add(x);
      write.add(x);
    }
  };
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let opt: string | null = null;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) {
        opt = a.slice(0, eq);
        a = a.slice(eq + 1);
      } else {
        opt = a;
        const next = args[i + 1];
        if (OUTPUT_OPTIONS.has(opt) && next !== undefined) output(args[++i]);
        continue;
      }
    }
    if (opt !== null && OUTPUT_OPTIONS.has(opt)) output(a);
    else if (isDb(a) && !a.startsWith("-")) output(a);
    else if (!a.startsWith("-") && exists(a)) read.add(a);
  }
  const ok = (p: string) => p.length > 0 && !p.includes(",");
  return { read: [...read].filter(ok), write: [...write].filter(ok) };
}

/** The full `deno run` argument list for `args`. */
export function denoArgs(args: string[]): string[] {
  const named = namedPaths(args);
  return [
    "run",
    ...BASE_FLAGS,
    `--allow-read=${[...SOURCE_READ, ...BASE_READ, ...named.read].join(",")}`,
    `--allow-write=${[...BASE_WRITE, ...named.write].join(",")}`,
    "src/main.ts",
    ...args,
  ];
}

if (import.meta.main) {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoArgs(Deno.args),
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  for (const sig of ["SIGINT", "SIGTERM", "SIGUSR1"] as const) {
    try {
      Deno.addSignalListener(sig, () => {
        try {
          child.kill(sig);
        } catch { /* already gone */ }
      });
    } catch { /* signal not supported on this OS */ }
  }
  Deno.exit((await child.status).code);
}
