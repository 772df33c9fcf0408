/**
 * `bitget-bot model list | register | promote | rollback` — the model registry
 * (model/model_registry.ts). `--registry` names its folder (default `models/registry`).
 *
 *   list [--json]                      every version: status, parent, origin, window, metrics
 *   register <bundle> [--promote]      add a bundle as the next version (a candidate, or live)
 *   promote <version>                  make a version live; a running daemon swaps to it
 *   rollback                           make the previously live version live again
 *
 * Exit codes: 0 ok, 1 registry or bundle problem (one line naming it), 2 usage.
 */
import { parseArgs } from "node:util";
import { BundleError } from "../model/bundle.ts";
import { ModelRegistry, type RegistryEntry, RegistryError } from "../model/model_registry.ts";

export const REGISTRY_USAGE = `  list [--registry models/registry] [--json]
        the registry's versions: status (live, candidate, rejected, retired), parent, origin,
        training window, validation metrics, ONNX SHA-256, and why each has its status
  register <bundle> [--registry models/registry] [--promote]
        add a bundle (from train or import) as the next version; --promote makes it live
  promote <version> [--registry models/registry]
        make a version live (a running 'run' picks it up within 2 s, no restart)
  rollback [--registry models/registry]
        make the version live again that was live before the current one`;

const DEFAULT_REGISTRY = "models/registry";

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/:\d\d\.\d{3}Z$/, "Z");
}

function metricText(e: RegistryEntry): string {
  const m = Object.entries(e.validationMetrics).slice(0, 2);
  return m.map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`).join(" ");
}

function table(entries: RegistryEntry[], live: string | null): string {
  const rows = entries.map((e) => [
    (e.version === live ? "* " : "  ") + e.version,
    e.pruned ? `${e.status} (pruned)` : e.status,
    e.parent ?? "-",
    e.origin,
    e.registeredAt.replace(/\.\d{3}Z$/, "Z"),
    e.trainingWindow ? `${iso(e.trainingWindow.startMs)} → ${iso(e.trainingWindow.endMs)}` : "-",
    metricText(e) || "-",
    e.onnxSha256.slice(0, 12),
    e.reason ?? "",
  ]);
  const head = [
    "  version",
    "status",
    "parent",
    "origin",
    "registered",
    "training window",
    "validation",
    "onnx sha256",
    "reason",
  ];
  const all = [head, ...rows];
  const w = head.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  return all.map((r) => r.map((c, j) => (j === r.length - 1 ? c : c.padEnd(w[j]))).join("  "))
    .join("\n");
}

async function listCmd(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { registry: { type: "string" }, json: { type: "boolean" } },
  });
  const reg = await ModelRegistry.open(values.registry ?? DEFAULT_REGISTRY);
  const idx = await reg.read();
  if (values.json) console.log(JSON.stringify(idx, null, 2));
  else if (idx.versions.length === 0) console.log(`${reg.dir}: no versions yet`);
  else console.log(table(idx.versions, idx.live));
  return 0;
}

async function registerCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { registry: { type: "string" }, promote: { type: "boolean" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError("register: expected one bundle path");
  const reg = await ModelRegistry.open(values.registry ?? DEFAULT_REGISTRY, { create: true });
  const e = await reg.register(positionals[0], { promote: values.promote ?? false });
  console.log(`${e.version} registered from ${positionals[0]} (${e.status})`);
  return 0;
}

async function promoteCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { registry: { type: "string" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError("promote: expected one version (e.g. v3)");
  const reg = await ModelRegistry.open(values.registry ?? DEFAULT_REGISTRY);
  const prev = await reg.promote(positionals[0]);
  console.log(
    prev === positionals[0]
      ? `${prev} is already live`
      : `${positionals[0]} is live (was ${prev ?? "none"})`,
  );
  return 0;
}

async function rollbackCmd(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { registry: { type: "string" } } });
  const reg = await ModelRegistry.open(values.registry ?? DEFAULT_REGISTRY);
  const r = await reg.rollback();
  console.log(`${r.to} is live again (rolled back from ${r.from})`);
  return 0;
}

class UsageError extends Error {}

/**
 * Runs a registry subcommand; null when `sub` is not one.
 * @returns the exit code.
 */
export async function registryCommand(sub: string, argv: string[]): Promise<number | null> {
  const run = { list: listCmd, register: registerCmd, promote: promoteCmd, rollback: rollbackCmd }[
    sub
  ];
  if (!run) return null;
  try {
    return await run(argv);
  } catch (e) {
    const usage = e instanceof UsageError ||
      (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS"));
    if (usage) {
      console.error(
        `model ${sub}: ${(e as Error).message}\n\nusage: bitget-bot model\n${REGISTRY_USAGE}`,
      );
      return 2;
    }
    const user = e instanceof RegistryError || e instanceof BundleError ||
      e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied;
    console.error(
      `model ${sub}: ${user ? (e as Error).message : e instanceof Error ? e.stack : e}`,
    );
    return 1;
  }
}
