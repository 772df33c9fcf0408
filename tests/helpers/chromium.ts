/**
 * Finds a headless-capable Chromium or Chrome for the HTML report render test, installing
 * Debian's `chromium` package when none exists and this user may install packages (root, or
 * password-less sudo). The README's test command (`deno task test`) must pass on a fresh machine
 * by itself (issue 10), so this lives in the tests, not only in `.ci/run`.
 *
 * Search order: `$CHROME_PATH`; Debian/Ubuntu paths (`/usr/bin/chromium`,
 * `/usr/bin/chromium-browser`, `/usr/bin/google-chrome`, `/usr/bin/google-chrome-stable`); the
 * same names on `PATH`; macOS app bundles. A candidate counts when `<bin> --version` exits 0,
 * which needs only `--allow-run` (a stat of /usr/bin would need read access).
 *
 * Throws one actionable line when it can neither find nor install one.
 */

const CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "chromium",
  "chromium-browser",
  "google-chrome",
  "google-chrome-stable",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
];

/** Exit status of a command, or null when the program does not exist. */
async function runs(bin: string, args: string[]): Promise<boolean | null> {
  try {
    const out = await new Deno.Command(bin, { args, stdin: "null", stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function probe(): Promise<string | null> {
  let env: string | undefined;
  try {
    env = Deno.env.get("CHROME_PATH");
  } catch {
    env = undefined; // no --allow-env for it: skip that source, keep the fixed paths
  }
  for (const c of env ? [env, ...CANDIDATES] : CANDIDATES) {
    if (await runs(c, ["--version"])) return c;
  }
  return null;
}

/** Installs Debian's chromium when apt-get exists and we are root or have password-less sudo. */
async function tryInstall(): Promise<boolean> {
  if ((await runs("apt-get", ["--version"])) !== true) return false;
  const id = await new Deno.Command("id", { args: ["-u"], stdout: "piped", stderr: "null" })
    .output().catch(() => null);
  const root = id !== null && new TextDecoder().decode(id.stdout).trim() === "0";
  if (!root && (await runs("sudo", ["-n", "true"])) !== true) return false;
  console.error(
    "headless Chromium not found: installing Debian's chromium package for the report render " +
      "test (apt-get install -y chromium)",
  );
  const exec = (args: string[]) =>
    root ? runs(args[0], args.slice(1)) : runs("sudo", ["-n", ...args]);
  await exec(["apt-get", "update", "-qq"]);
  return (await exec([
    "env",
    "DEBIAN_FRONTEND=noninteractive",
    "apt-get",
    "install",
    "-y",
    "-qq",
    "chromium",
  ])) === true;
}

let found: Promise<string> | null = null;

/** The Chromium binary to run headless; installs it once if needed (see module doc). */
export function findChromium(): Promise<string> {
  found ??= (async () => {
    const have = await probe();
    if (have) return have;
    if (await tryInstall()) {
      const now = await probe();
      if (now) return now;
    }
    throw new Error(
      "headless Chromium not found ($CHROME_PATH, /usr/bin/chromium, chromium-browser, " +
        "google-chrome, /Applications/Google Chrome.app) and it could not be installed here: " +
        "install one (Debian/Ubuntu: `sudo apt-get install -y chromium`) or set CHROME_PATH",
    );
  })();
  return found;
}
