/**
 * Ingest Web Worker entry (module worker). Owns one shard: the WebSocket connection and the
 * Normalizer (`ShardRunner`). With `settings.store` it also owns the shard's store writer
 * (shard_writer.ts) and commits its own batches; otherwise it posts `batch` messages to the main
 * thread. `stats`/`log` messages always go to the main thread.
 *
 * Protocol (see messages.ts): the first message must be `start`; `stop` → stop reading, post the
 * final batch and stats, reply `stopped`, close the worker.
 */
import type { FromWorker, ToWorker } from "./messages.ts";
import { ShardRunner } from "./shard_runner.ts";
import { packForTransfer } from "./transport.ts";
import { ShardWriter } from "./shard_writer.ts";

// The worker global, typed minimally (this file is also type-checked with the window lib).
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
  close(): void;
};

let runner: ShardRunner | null = null;
let writer: ShardWriter | null = null;

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "start") {
    if (runner !== null) return;
    const shard = m.shard.id;
    if (m.settings.store) {
      writer = new ShardWriter(
        m.settings.store,
        (msg, fields) => scope.postMessage({ type: "log", shard, level: "error", msg, fields }),
      );
    }
    runner = new ShardRunner(m.shard, m.settings, (out) => {
      if (out.type === "batch") {
        // With its own writer the shard commits here; otherwise the batch goes to the main thread.
        if (writer) return writer.push(out);
        packForTransfer(out.events);
      } else if (out.type === "stats" && writer) out.store = writer.stats();
      scope.postMessage(out);
    });
    runner.start();
  } else if (m.type === "stop") {
    const r = runner;
    const shard = r?.shard.id ?? -1;
    (r ? r.stop() : Promise.resolve()).finally(() => {
      // The runner's final batch went into the writer during stop(); commit it and report.
      const store = writer?.close();
      scope.postMessage({ type: "stopped", shard, ...(store ? { store } : {}) });
      scope.close();
    });
  }
};
