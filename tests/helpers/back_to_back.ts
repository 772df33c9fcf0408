/**
 * A recording with a drifted second half: the real 2023 BTCUSDT recording, then the real 2024
 * BTCUSDT recording shifted in time to follow it (Binance USDⓈ-M data in Bitget's v2 wire format,
 * ../shared/data/bitget_replay). The 2024 half starts with its own snapshots, so a client's books
 * reset at the seam as on a reconnect. The shift is a whole number of minutes, so candle
 * boundaries stay on the minute; the seam is a quiet gap of a few seconds.
 *
 * Timestamps moved in the 2024 half: `recv_ms`, the envelope `ts`, every data item's `ts` and
 * `nextFundingTime`, and the open time (first element) of candle rows. Nothing else changes.
 */
import { REC_2023, REC_2024 } from "./collect_harness.ts";

async function lines(path: string): Promise<string[]> {
  const f = await Deno.open(path);
  const text = await new Response(f.readable.pipeThrough(new DecompressionStream("gzip"))).text();
  return text.split("\n").filter((l) => l.length > 0);
}

function shiftItem(x: unknown, d: number): unknown {
  if (Array.isArray(x)) return [String(Number(x[0]) + d), ...x.slice(1)];
  if (x && typeof x === "object") {
    const o = { ...(x as Record<string, unknown>) };
    for (const k of ["ts", "nextFundingTime"]) {
      if (typeof o[k] === "string" && o[k] !== "") o[k] = String(Number(o[k]) + d);
    }
    return o;
  }
  return x;
}

/**
 * Writes the back-to-back recording (BTCUSDT only) to `out` (.jsonl).
 * @param secondHalfS seconds of the 2024 recording to keep (from its start)
 * @returns the seam (first 2024 push time, shifted) and the last push time, epoch ms.
 */
export async function writeBackToBack(
  out: string,
  secondHalfS: number,
): Promise<{ seamMs: number; endMs: number; firstMs: number }> {
  const a = await lines(REC_2023);
  const b = await lines(REC_2024);
  const lastA = JSON.parse(a[a.length - 1]).recv_ms as number;
  const firstA = JSON.parse(a[0]).recv_ms as number;
  const firstB = JSON.parse(b[0]).recv_ms as number;
  const minute = 60_000;
  // The smallest whole-minute shift that puts the 2024 start after the 2023 end.
  const d = Math.ceil((lastA + 1000 - firstB) / minute) * minute;
  const keep: string[] = [...a];
  let endMs = lastA, seamMs = NaN;
  for (const l of b) {
    const r = JSON.parse(l) as { recv_ms: number; msg: Record<string, unknown> };
    const m = r.msg;
    if (m.event !== undefined) continue; // subscribe acks belong to the start of a session
    if ((m.arg as { instId?: string })?.instId !== "BTCUSDT") continue;
    if (r.recv_ms - firstB > secondHalfS * 1000) break;
    const msg: Record<string, unknown> = { ...m };
    if (typeof msg.ts === "number") msg.ts = msg.ts + d;
    if (Array.isArray(msg.data)) msg.data = msg.data.map((x) => shiftItem(x, d));
    const recv = r.recv_ms + d;
    if (seamMs !== seamMs) seamMs = recv;
    endMs = recv;
    keep.push(JSON.stringify({ recv_ms: Math.round(recv * 1000) / 1000, msg }));
  }
  await Deno.writeTextFile(out, keep.join("\n") + "\n");
  return { seamMs, endMs, firstMs: firstA };
}
