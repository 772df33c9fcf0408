/**
 * REST pollers for data the public WebSocket does not carry (or carries less reliably):
 * contracts (at start, then every contractsInterval), symbol-price, open-interest,
 * current-fund-rate and funding-time at their configured intervals (0 disables one).
 *
 * Staggering: each per-symbol poller spreads its symbols evenly over its interval (one request
 * every interval/N), and pollers start at different offsets, so requests never come in bursts.
 * `current-fund-rate` and `contracts` fetch all symbols in one request and keep the configured ones.
 * Errors are logged and counted, never thrown: a poller simply tries again at its next turn.
 */
import type { BitgetPublicRest, FundingTime } from "../bitget/rest_public.ts";
import type { ContractSpec } from "../market/contracts.ts";
import type { MarketEvent } from "../market/events.ts";
import type { Logger } from "../ops/log.ts";
import { silentLogger } from "../ops/log.ts";

export interface PollerIntervals {
  /** ms; 0 = off. */
  symbolPrice: number;
  openInterest: number;
  fundingRate: number;
  fundingTime: number;
  contracts: number;
}

export interface PollerHandlers {
  onEvents: (events: MarketEvent[]) => void;
  /**
   * Contract specs of the configured symbols (at start and every contractsInterval), with the raw
   * contracts entries they were parsed from.
   */
  onContracts?: (specs: ContractSpec[], raw: Record<string, unknown>[]) => void;
  onFundingTimes?: (rows: FundingTime[]) => void;
}

export type PollerName =
  | "contracts"
  | "symbol-price"
  | "open-interest"
  | "current-fund-rate"
  | "funding-time";

export interface PollerStats {
  requests: number;
  errors: number;
  lastError: string | null;
}

/** Poller intervals from the config's `rest` section. */
export function pollerIntervals(rest: {
  symbolPriceInterval: number;
  openInterestInterval: number;
  fundingRateInterval: number;
  fundingTimeInterval: number;
  contractsInterval: number;
}): PollerIntervals {
  return {
    symbolPrice: rest.symbolPriceInterval,
    openInterest: rest.openInterestInterval,
    fundingRate: rest.fundingRateInterval,
    fundingTime: rest.fundingTimeInterval,
    contracts: rest.contractsInterval,
  };
}

interface Poller {
  name: PollerName;
  interval: number;
  /** One task per turn; per-symbol pollers rotate through the symbols. */
  tasks: Array<() => Promise<void>>;
  next: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class RestPollers {
  private readonly pollers: Poller[] = [];
  private readonly stats_ = new Map<PollerName, PollerStats>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly log: Logger;
  private readonly wanted: Set<string>;
  private stopped = false;

  constructor(
    private readonly rest: BitgetPublicRest,
    private readonly symbols: readonly string[],
    private readonly intervals: PollerIntervals,
    private readonly handlers: PollerHandlers,
    logger: Logger = silentLogger,
  ) {
    this.log = logger.child({ component: "pollers" });
    this.wanted = new Set(symbols);
  }

  /** Starts every enabled poller (contracts first, immediately). */
  start(): void {
    const per = (fn: (s: string) => Promise<void>) => this.symbols.map((s) => () => fn(s));
    const defs: Array<[PollerName, number, Array<() => Promise<void>>]> = [
      ["contracts", this.intervals.contracts, [() => this.contracts()]],
      [
        "symbol-price",
        this.intervals.symbolPrice,
        per(async (s) => {
          this.handlers.onEvents(await this.rest.symbolPrice(s));
        }),
      ],
      [
        "open-interest",
        this.intervals.openInterest,
        per(async (s) => {
          this.handlers.onEvents(await this.rest.openInterest(s));
        }),
      ],
      ["current-fund-rate", this.intervals.fundingRate, [async () => {
        const rows = await this.rest.currentFundRate();
        this.handlers.onEvents(rows.filter((r) => this.wanted.has(r.symbol)));
      }]],
      [
        "funding-time",
        this.intervals.fundingTime,
        per(async (s) => {
          this.handlers.onFundingTimes?.(await this.rest.fundingTime(s));
        }),
      ],
    ];
    let offset = 0;
    for (const [name, interval, tasks] of defs) {
      if (!(interval > 0) || tasks.length === 0) continue;
      this.stats_.set(name, { requests: 0, errors: 0, lastError: null });
      const p: Poller = { name, interval, tasks, next: 0, timer: undefined };
      this.pollers.push(p);
      // Contracts go first (specs are needed to interpret sizes); the others follow 250 ms apart.
      this.schedule(p, name === "contracts" ? 0 : (offset += 250));
    }
  }

  private schedule(p: Poller, delay: number): void {
    if (this.stopped) return;
    p.timer = setTimeout(() => this.turn(p), delay);
  }

  private turn(p: Poller): void {
    if (this.stopped) return;
    const started = performance.now();
    const task = p.tasks[p.next];
    p.next = (p.next + 1) % p.tasks.length;
    const st = this.stats_.get(p.name)!;
    st.requests++;
    const run = task().catch((e) => {
      st.errors++;
      st.lastError = (e as Error).message;
      this.log.warn("poll failed", { poller: p.name, err: st.lastError });
    }).finally(() => {
      this.inflight.delete(run);
      // Spread the symbols over the interval; never overlap a poller with itself.
      const spacing = p.interval / p.tasks.length;
      this.schedule(p, Math.max(0, spacing - (performance.now() - started)));
    });
    this.inflight.add(run);
  }

  private async contracts(): Promise<void> {
    const { specs, raw } = await this.rest.contracts();
    const mine = specs.filter((s) => this.wanted.has(s.symbol));
    const missing = this.symbols.filter((s) => !mine.some((c) => c.symbol === s));
    if (missing.length > 0) this.log.warn("symbols without a contract", { missing });
    this.handlers.onContracts?.(mine, raw.filter((r) => this.wanted.has(String(r.symbol))));
  }

  /** Request and error counts per poller. */
  stats(): Record<string, PollerStats> {
    return Object.fromEntries([...this.stats_].map(([k, v]) => [k, { ...v }]));
  }

  /** Stops scheduling and waits for requests in flight (each bounded by the REST timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.pollers) clearTimeout(p.timer);
    await Promise.allSettled([...this.inflight]);
  }
}
