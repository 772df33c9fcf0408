/**
 * AlertEvent → the JSON body of Discord's Execute Webhook (`POST /webhooks/{id}/{token}`):
 * `{username?, content?, embeds: [embed], allowed_mentions: {parse: []}}`, one embed of
 * `{title, description?, color, fields: [{name, value, inline}], timestamp}` (ISO 8601 of the
 * event's `ts`). The title starts with the mode (`[LIVE]`); the colour is the event's severity.
 *
 * Discord's limits are enforced here, never left to a 400: title ≤ 256, description ≤ 4096,
 * ≤ 25 fields, field name ≤ 256 and value ≤ 1024 (never empty), the embed's characters in total
 * ≤ 6000 (fields are kept before the description; fields cut are counted in a last field),
 * content ≤ 2000, username ≤ 80. `allowed_mentions` with no parse types keeps an `@everyone` in an
 * error text from pinging anyone.
 */
import { type AlertEvent, type Metrics, type Severity, severity } from "./events.ts";
import { duration, metric, pct, signedUsdt, truncate, usdt, verbatim } from "./format.ts";

export const DISCORD_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  total: 6000,
  content: 2000,
  username: 80,
} as const;

/** Embed colours (RGB as an integer, as Discord takes them). */
export const SEVERITY_COLORS: Record<Severity, number> = {
  info: 0x3498db,
  good: 0x2ecc71,
  bad: 0xe74c3c,
};

export interface DiscordField {
  name: string;
  value: string;
  inline: boolean;
}

export interface DiscordEmbed {
  title: string;
  description?: string;
  color: number;
  fields: DiscordField[];
  timestamp: string;
}

export interface DiscordPayload {
  username?: string;
  content?: string;
  embeds: DiscordEmbed[];
  allowed_mentions: { parse: string[] };
}

export interface DiscordFormatOptions {
  /** Overrides the webhook's own name. */
  username?: string;
  /** Alerts dropped (queue full) since the last delivered message: said in `content`. */
  dropped?: number;
}

interface Draft {
  title: string;
  description?: string;
  fields: [name: string, value: string, inline?: boolean][];
}

const side = (s: string) => s.toUpperCase();
const metricFields = (m: Metrics): Draft["fields"] =>
  Object.entries(m).map(([k, v]) => [k, metric(v)]);
const codeBlock = (s: string) => "```\n" + s.replaceAll("```", "'''") + "\n```";

function draft(e: AlertEvent): Draft {
  switch (e.type) {
    case "trade_opened":
      return {
        title: `Opened ${side(e.side)} ${e.symbol}`,
        fields: [
          ["Size", verbatim(e.size)],
          ["Price", verbatim(e.price)],
          ["Notional", usdt(e.notionalUsdt)],
          ["Client OID", e.clientOid, false],
        ],
      };
    case "trade_closed":
      return {
        title: `Closed ${side(e.side)} ${e.symbol} · ${signedUsdt(e.pnlUsdt)}`,
        fields: [
          ["Size", verbatim(e.size)],
          ["Entry", verbatim(e.entryPrice)],
          ["Exit", verbatim(e.exitPrice)],
          ["PnL (net)", signedUsdt(e.pnlUsdt)],
          ["Fees", usdt(e.feesUsdt)],
          ["Held", duration(e.holdMs)],
        ],
      };
    case "regime_change":
      return {
        title: `Regime ${e.symbol}: ${e.from} → ${e.to}`,
        fields: [["From", e.from], ["To", e.to]],
      };
    case "model_promoted":
      return {
        title: `Model promoted: ${e.version}`,
        description: e.reason,
        fields: [["Previous", e.previous ?? "none"], ...metricFields(e.metrics)],
      };
    case "model_rejected":
      return {
        title: `Model rejected: ${e.version}`,
        description: e.reason,
        fields: metricFields(e.metrics),
      };
    case "drift_alarm": {
      const worst = [...e.features].sort((a, b) => b.psi - a.psi);
      return {
        title: `Feature drift: ${e.features.length} over PSI ${metric(e.threshold)}`,
        description: worst.map((f) => `\`${f.name}\` PSI ${metric(f.psi)}`).join("\n"),
        fields: [
          ["Threshold", metric(e.threshold)],
          ["Worst", worst.length ? `${worst[0].name} (${metric(worst[0].psi)})` : "-"],
        ],
      };
    }
    case "halt":
      return e.kind === "daily_loss"
        ? {
          title: "Trading halted: daily loss limit",
          fields: [["Loss", usdt(e.valueUsdt)], ["Limit", usdt(e.limit)]],
        }
        : {
          title: "Trading halted: drawdown limit",
          fields: [["Drawdown", pct(e.ratio)], ["Limit", pct(e.limit)]],
        };
    case "kill_switch":
      return { title: `Kill switch (${e.source})`, description: e.detail, fields: [] };
    case "reconnect_storm":
      return {
        title: `Reconnect storm: ${e.feed}`,
        description: `${e.count} reconnects within ${duration(e.windowMs)}`,
        fields: [["Reconnects", String(e.count)], ["Window", duration(e.windowMs)]],
      };
    case "error":
      return { title: `Error in ${e.where}`, description: codeBlock(e.message), fields: [] };
    case "daily_summary":
      return {
        title: `Daily summary ${e.date} · ${signedUsdt(e.pnlUsdt)}`,
        fields: [
          ["Trades", String(e.trades)],
          ["PnL (net)", signedUsdt(e.pnlUsdt)],
          ["Fees", usdt(e.feesUsdt)],
          ["Equity", usdt(e.equityUsdt)],
          ["Max drawdown", pct(e.maxDrawdown)],
        ],
      };
  }
}

const nonEmpty = (s: string) => (s.trim() === "" ? "-" : s);

/** Applies Discord's embed limits (see the module doc); the result is always accepted. */
export function fitEmbed(embed: DiscordEmbed): DiscordEmbed {
  const L = DISCORD_LIMITS;
  const title = truncate(nonEmpty(embed.title), L.title);
  let fields = embed.fields.map((f) => ({
    name: truncate(nonEmpty(f.name), L.fieldName),
    value: truncate(nonEmpty(f.value), L.fieldValue),
    inline: f.inline,
  }));
  const size = (fs: DiscordField[]) => fs.reduce((n, f) => n + f.name.length + f.value.length, 0);
  const more = (n: number): DiscordField => ({ name: "…", value: `${n} more`, inline: false });
  const all = fields.length;
  if (all > L.fields) fields = [...fields.slice(0, L.fields - 1), more(all - L.fields + 1)];
  // Fields before the description: the numbers matter more than the prose.
  while (title.length + size(fields) > L.total && fields.length > 1) {
    const kept = fields.at(-1)!.name === "…" ? fields.slice(0, -2) : fields.slice(0, -1);
    fields = [...kept, more(all - kept.length)];
  }
  const room = Math.min(L.description, L.total - title.length - size(fields));
  const description = embed.description === undefined
    ? undefined
    : truncate(embed.description, Math.max(0, room));
  const out: DiscordEmbed = { title, color: embed.color, fields, timestamp: embed.timestamp };
  if (description) out.description = description;
  return out;
}

/** Characters Discord counts toward the 6000 of an embed (title, description, fields). */
export function embedSize(e: DiscordEmbed): number {
  return e.title.length + (e.description?.length ?? 0) +
    e.fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
}

/** The Execute Webhook body for one event. */
export function discordPayload(e: AlertEvent, opts: DiscordFormatOptions = {}): DiscordPayload {
  const d = draft(e);
  const embed = fitEmbed({
    title: `[${e.mode.toUpperCase()}] ${d.title}`,
    description: d.description,
    color: SEVERITY_COLORS[severity(e)],
    fields: d.fields.map(([name, value, inline]) => ({ name, value, inline: inline ?? true })),
    timestamp: new Date(Number.isFinite(e.ts) ? e.ts : Date.now()).toISOString(),
  });
  const payload: DiscordPayload = { embeds: [embed], allowed_mentions: { parse: [] } };
  if (opts.username) payload.username = truncate(opts.username, DISCORD_LIMITS.username);
  if (opts.dropped && opts.dropped > 0) {
    const n = opts.dropped;
    payload.content = `⚠️ ${n} alert${n === 1 ? "" : "s"} dropped (alert queue full)`;
  }
  return payload;
}
