/**
 * Plans WebSocket shards: which (symbol, channel) subscriptions go on which connection.
 *
 * Each shard holds ≤ maxChannelsPerConnection subscriptions (Bitget recommends < 50 channels per
 * connection, API.md §1.1). A symbol's channels stay on one connection whenever they fit, so one
 * connection drop never leaves a symbol half-recorded; a symbol with more channels than fit on a
 * connection is split across consecutive shards.
 */
import type { Channel } from "../market/events.ts";

export interface ShardKey {
  symbol: string;
  channel: Channel;
}

export interface ShardPlan {
  /** 0-based shard number (stable for the same inputs). */
  id: number;
  keys: ShardKey[];
}

/**
 * Packs symbols (in the given order) into shards. Throws RangeError when `maxPerConnection` < 1 or
 * no symbol/channel is given.
 */
export function planShards(
  symbols: readonly string[],
  channels: readonly Channel[],
  maxPerConnection: number,
): ShardPlan[] {
  if (!Number.isInteger(maxPerConnection) || maxPerConnection < 1) {
    throw new RangeError(
      `maxChannelsPerConnection must be an integer ≥ 1, got ${maxPerConnection}`,
    );
  }
  if (symbols.length === 0 || channels.length === 0) {
    throw new RangeError("planShards needs at least one symbol and one channel");
  }
  const uniqSymbols = [...new Set(symbols)];
  const uniqChannels = [...new Set(channels)];
  const shards: ShardPlan[] = [];
  let cur: ShardKey[] = [];
  const flush = () => {
    if (cur.length > 0) shards.push({ id: shards.length, keys: cur });
    cur = [];
  };
  for (const symbol of uniqSymbols) {
    const keys = uniqChannels.map((channel) => ({ symbol, channel }));
    if (keys.length <= maxPerConnection) {
      // Whole symbol fits on a connection: start a new one rather than split it.
      if (cur.length + keys.length > maxPerConnection) flush();
      cur.push(...keys);
    } else {
      // More channels than a connection holds: fill connections with this symbol alone.
      flush();
      for (let i = 0; i < keys.length; i += maxPerConnection) {
        cur = keys.slice(i, i + maxPerConnection);
        flush();
      }
    }
  }
  flush();
  return shards;
}

/**
 * Channels per connection that spread `symbols` over at least `minConnections` connections (whole
 * symbols per connection), never above `maxPerConnection`. Parsing and book maintenance run in one
 * worker per connection, so on a multi-core host more connections ingest faster (measured on the
 * real 2024 recording, 2 cores: 1 connection 0.20×, 2 connections 0.29× of the raw insert rate).
 */
export function channelsPerConnection(
  symbols: number,
  channels: number,
  maxPerConnection: number,
  minConnections: number,
): number {
  const bySymbols = Math.ceil(symbols / Math.max(1, Math.min(minConnections, symbols))) * channels;
  return Math.max(1, Math.min(maxPerConnection, bySymbols));
}
