/**
 * Bitget order-book checksum (API.md §2.2, Bitget docs "Order Book Channel" checksum section).
 *
 * Take the best 25 bids (descending) and 25 asks (ascending) of the local book after applying the
 * message; interleave `bid:size:ask:size…`, skipping entries a side does not have; join with `:`;
 * CRC32 (IEEE/zlib) of the UTF-8 bytes, read as a signed int32. Prices and sizes are the exact
 * strings received (`0.5000` stays `0.5000`).
 */
import { crc32 } from "node:zlib";
import type { BookLevel } from "../market/events.ts";

/** Number of levels per side that enter the checksum. */
export const CHECKSUM_DEPTH = 25;

/** Builds the checksum input string from the top levels (best first on each side). */
export function checksumString(bids: readonly BookLevel[], asks: readonly BookLevel[]): string {
  const parts: string[] = [];
  for (let i = 0; i < CHECKSUM_DEPTH; i++) {
    const b = bids[i];
    if (b) parts.push(b[0], b[1]);
    const a = asks[i];
    if (a) parts.push(a[0], a[1]);
  }
  return parts.join(":");
}

/** Signed int32 CRC32 of the checksum string of these top levels. */
export function bookChecksum(bids: readonly BookLevel[], asks: readonly BookLevel[]): number {
  return crc32(checksumString(bids, asks)) | 0;
}
