/**
 * A byte-for-byte TCP relay in front of the simulator's `Deno.serve` listener.
 *
 * Why: a server-side WebSocket from `Deno.upgradeWebSocket` can only close politely (it always
 * sends a close frame; the client sees code 1005/1000, `wasClean: true`). A real network drop or
 * a crashed exchange gateway gives the client no close frame at all. Relaying each client
 * connection through this front lets `drop@N` close the client's TCP socket directly, which is the
 * most abrupt close available: the client reads EOF with no close frame — Deno's WebSocket client
 * fires `error` ("Unexpected EOF") then `close` with `wasClean: false` (RFC 6455 §7.1.5 calls
 * this code 1006; Deno 2.9 reports `code` 0).
 *
 * The inner server identifies the relay connection of a request by the relay's local port, which
 * is the inner request's `remoteAddr.port`.
 */

interface Pair {
  client: Deno.TcpConn;
  upstream: Deno.TcpConn;
  /** Client address as seen by the front (the inner server only sees the relay). */
  remote: Deno.NetAddr;
  closed: boolean;
  /** WebSocket bytes forwarded server→client (after the HTTP upgrade response head). */
  wsBytes: number;
  /** How many bytes of the `\r\n\r\n` head terminator have been matched (4 = head done). */
  headMatch: number;
}

const HEAD_END = [13, 10, 13, 10];

export class TcpFront {
  private readonly pairs = new Map<number, Pair>();
  /** Relay directions still running (awaited by close so no stream op outlives the front). */
  private readonly running = new Set<Promise<unknown>>();
  private readonly listener: Deno.TcpListener;
  private readonly accepting: Promise<void>;
  private closing = false;

  /** Listens on hostname:port (0 = ephemeral) and relays every connection to 127.0.0.1:upstreamPort. */
  constructor(hostname: string, port: number, private readonly upstreamPort: number) {
    this.listener = Deno.listen({ hostname, port, transport: "tcp" });
    this.accepting = this.acceptLoop();
  }

  get addr(): Deno.NetAddr {
    return this.listener.addr;
  }

  private async acceptLoop(): Promise<void> {
    try {
      for await (const client of this.listener) {
        if (this.closing) {
          safeClose(client);
          continue;
        }
        this.relay(client).catch(() => safeClose(client));
      }
    } catch {
      // listener closed
    }
  }

  private async relay(client: Deno.TcpConn): Promise<void> {
    client.setNoDelay(true);
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.upstreamPort });
    upstream.setNoDelay(true);
    const key = upstream.localAddr.port;
    const pair: Pair = {
      client,
      upstream,
      remote: client.remoteAddr,
      closed: false,
      wsBytes: 0,
      headMatch: 0,
    };
    this.pairs.set(key, pair);
    const end = () => this.sever(key);
    // Either direction ending (EOF, error, or sever) tears the pair down.
    const done = Promise.allSettled([
      client.readable.pipeTo(upstream.writable).then(end, end),
      this.pump(pair).then(end, end),
    ]);
    this.running.add(done);
    done.then(() => this.running.delete(done));
  }

  /** Server → client copy, done by hand to count the WebSocket bytes forwarded. */
  private async pump(p: Pair): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    while (!p.closed) {
      const n = await p.upstream.read(buf);
      if (n === null) return;
      let off = 0;
      while (off < n) off += await p.client.write(buf.subarray(off, n));
      if (p.headMatch === 4) {
        p.wsBytes += n;
      } else {
        for (let i = 0; i < n; i++) {
          if (p.headMatch === 4) {
            p.wsBytes += n - i;
            break;
          }
          p.headMatch = buf[i] === HEAD_END[p.headMatch]
            ? p.headMatch + 1
            : (buf[i] === 13 ? 1 : 0);
        }
      }
    }
  }

  /**
   * Severs the connection once the relay has forwarded `wsBytes` WebSocket bytes (everything the
   * server wrote before the drop), or after `maxWaitMs`. The client thus receives every frame sent
   * before the drop and nothing after it.
   */
  async drainThenSever(relayPort: number, wsBytes: number, maxWaitMs = 2000): Promise<boolean> {
    const p = this.pairs.get(relayPort);
    if (!p) return false;
    const deadline = performance.now() + maxWaitMs;
    while (!p.closed && p.wsBytes < wsBytes && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1));
    }
    return this.sever(relayPort);
  }

  /** The client address behind an inner request whose remote port is `relayPort`, if relayed. */
  clientOf(relayPort: number): Deno.NetAddr | undefined {
    return this.pairs.get(relayPort)?.remote;
  }

  /** Closes both sockets of the relayed connection at once (no WebSocket close frame). */
  sever(relayPort: number): boolean {
    const p = this.pairs.get(relayPort);
    if (!p) return false;
    this.pairs.delete(relayPort);
    if (!p.closed) {
      p.closed = true;
      safeClose(p.client);
      safeClose(p.upstream);
    }
    return true;
  }

  /** Stops accepting and severs every relayed connection. */
  async close(): Promise<void> {
    this.closing = true;
    try {
      this.listener.close();
    } catch {
      // already closed
    }
    for (const k of [...this.pairs.keys()]) this.sever(k);
    await this.accepting;
    await Promise.all([...this.running]);
  }
}

function safeClose(c: Deno.Conn): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}
