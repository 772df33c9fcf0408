/** bitget-bot release version (semver); recorded in the `runs` table and model bundles. */
export const VERSION = "0.1.0";
