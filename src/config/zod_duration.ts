/**
 * The zod type of a duration field (`500ms`, `30s`, `5m`, `2h`, `7d` or bare ms → ms), shared by
 * config.yaml's sections and the strategy modules' own schemas.
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";

/**
 * A duration parsed to ms by `parseDuration`. An invalid value is a zod issue with `message`, or
 * parseDuration's own message (which quotes the value) when none is given. Add `.default(…)`
 * for an optional field: the default is parsed like a given value.
 */
export function zDuration(message?: string) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    try {
      return parseDuration(v);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: message ?? (e as Error).message });
      return z.NEVER;
    }
  });
}

/** The message config.yaml's duration fields give for a bad value. */
export const DURATION_MESSAGE = "expected a duration such as 500ms, 30s, 5m, 2h or 7d";

/** A config.yaml duration field with a default (parsed like a given value). */
export const configDuration = (def: string) => zDuration(DURATION_MESSAGE).default(def);
