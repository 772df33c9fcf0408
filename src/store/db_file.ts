/**
 * File-level checks before SQLite touches a database path, so that every failure is a
 * StoreError naming the path and the OS reason, and a file that is not SQLite is never opened
 * for writing (SQLite would only notice on the first read).
 */
import { dirname } from "node:path";
import { reason, StoreError } from "./errors.ts";

const SQLITE_MAGIC = "SQLite format 3\0";

/** Throws StoreError unless `path` is absent, empty, or starts with the SQLite header. */
function sniffFile(path: string, size: number): void {
  if (size === 0) return;
  const head = new Uint8Array(16);
  let n = 0;
  try {
    const f = Deno.openSync(path, { read: true });
    try {
      n = f.readSync(head) ?? 0;
    } finally {
      f.close();
    }
  } catch (e) {
    throw new StoreError(`cannot read database ${path}: ${reason(e)}`, path, { cause: e });
  }
  if (n < 16 || new TextDecoder("latin1").decode(head) !== SQLITE_MAGIC) {
    throw new StoreError(`${path} is not a bitget-bot database (not a SQLite file)`, path);
  }
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new StoreError(`cannot access database ${path}: ${reason(e)}`, path, { cause: e });
  }
}

/** Creates `path` as an empty file (SQLite treats it as an empty database), with its directory. */
function createEmpty(path: string): void {
  const dir = dirname(path);
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new StoreError(
      `cannot create directory ${dir} for database ${path}: ${reason(e)}`,
      path,
      { cause: e },
    );
  }
  try {
    Deno.openSync(path, { write: true, createNew: true }).close();
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return;
    throw new StoreError(`cannot create database ${path}: ${reason(e)}`, path, { cause: e });
  }
}

/**
 * Checks `path` for an open: it must exist (or, with `create`, is created empty together with
 * its parent directory), be a regular file, start with the SQLite header (or be empty), and be
 * writable unless `readonly`.
 * @throws StoreError with the path and the OS reason.
 */
export function prepareDbFile(path: string, create: boolean, readonly: boolean): void {
  const st = statOrNull(path);
  if (st === null) {
    if (!create) throw new StoreError(`database ${path} does not exist`, path);
    createEmpty(path);
  } else {
    if (!st.isFile) throw new StoreError(`database path ${path} is not a file`, path);
    sniffFile(path, st.size);
    if (!readonly) {
      try {
        Deno.openSync(path, { read: true, write: true }).close();
      } catch (e) {
        throw new StoreError(`cannot open database ${path} for writing: ${reason(e)}`, path, {
          cause: e,
        });
      }
    }
  }
}
