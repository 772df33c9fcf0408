/** Errors raised by the SQLite store (open, schema, writes, imports). */

/**
 * A store failure a user can act on: the file is missing, is not a bitget-bot database, has a
 * newer schema, or cannot be opened or written. `path` is the database file concerned.
 */
export class StoreError extends Error {
  override name = "StoreError";
  constructor(message: string, readonly path?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Text of an unknown thrown value, for wrapping OS / SQLite errors into a StoreError. */
export function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
