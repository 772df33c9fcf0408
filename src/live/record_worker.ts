/**
 * The daemon's recording worker (module worker): owns a store writer (ingest/shard_writer.ts, the
 * collector shards' own) on its own SQLite connection, so commits never block the main thread
 * that trades. The main thread posts the events it traded on; nothing is parsed here.
 *
 * Protocol: main → worker `start` {store}, `batch` (ingest/messages.ts BatchMessage), `stats`,
 * `stop`; worker → main `stats` {store} (answering `stats`), `log`, `stopped` {store} (null when
 * the writer never started) after the last commit.
 * Keep this module free of npm imports: the worker may run with read access to `src/` only.
 */
import type { BatchMessage, WorkerStoreSettings, WorkerStoreStats } from "../ingest/messages.ts";
import { ShardWriter } from "../ingest/shard_writer.ts";

export type ToRecorder =
  | { type: "start"; store: WorkerStoreSettings }
  | BatchMessage
  | { type: "stats" }
  | { type: "stop" };

export type FromRecorder =
  | { type: "log"; level: "error"; msg: string; fields: Record<string, unknown> }
  | { type: "stats"; store: WorkerStoreStats }
  | { type: "stopped"; store: WorkerStoreStats | null };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ToRecorder>) => void) | null;
  postMessage(m: FromRecorder): void;
  close(): void;
};

let writer: ShardWriter | null = null;

scope.onmessage = (e: MessageEvent<ToRecorder>) => {
  const m = e.data;
  if (m.type === "start") {
    writer ??= new ShardWriter(
      m.store,
      (msg, fields) => scope.postMessage({ type: "log", level: "error", msg, fields }),
    );
  } else if (m.type === "batch") {
    writer?.push(m);
  } else if (m.type === "stats") {
    if (writer) scope.postMessage({ type: "stats", store: writer.stats() });
  } else if (m.type === "stop") {
    const closed = writer?.close();
    writer = null;
    let store: WorkerStoreStats | null = null;
    if (closed) {
      const { latency: _l, ...totals } = closed;
      store = totals;
    }
    scope.postMessage({ type: "stopped", store });
    scope.close();
  }
};
