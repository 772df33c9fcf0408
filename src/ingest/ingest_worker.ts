/**
 * Ingest Web Worker entry (module worker). Owns one shard: the WebSocket connection and the
 * Normalizer (`ShardRunner`), and posts `batch`/`stats`/`log` messages to the main thread.
 *
 * Protocol (see messages.ts): the first message must be `start`; `stop` → stop reading, post the
 * final batch and stats, reply `stopped`, close the worker.
 */
import type { FromWorker, ToWorker } from "./messages.ts";
import { ShardRunner } from "./shard_runner.ts";
import { packForTransfer } from "./transport.ts";

// The worker global, typed minimally (this file is also type-checked with the window lib).
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
  close(): void;
};

let runner: ShardRunner | null = null;

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "start") {
    if (runner !== null) return;
    runner = new ShardRunner(m.shard, m.settings, (out) => {
      if (out.type === "batch") packForTransfer(out.events);
      scope.postMessage(out);
    });
    runner.start();
  } else if (m.type === "stop") {
    const r = runner;
    const shard = r?.shard.id ?? -1;
    (r ? r.stop() : Promise.resolve()).finally(() => {
      scope.postMessage({ type: "stopped", shard });
      scope.close();
    });
  }
};
