/**
 * `pnpm dashboard:screenshot`: docs/dashboard.png, the dashboard under the demo's load. Runs the real
 * `ollama-ring demo` (its simulated pool, gateway and traffic), opens the gateway's /dashboard in
 * headless Chromium from the start, and saves the page once the demo's burst has requests waiting
 * in the queue (or at 25 s if none ever wait).
 *
 * Flags: `--out FILE` (default docs/dashboard.png), `--after S` (not before this many seconds into
 * the demo's 30, so the charts have a history; default 12).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from '../common/args';
import { launchChromium } from '../common/chromium';

const ROOT = join(__dirname, '..', '..', '..');

/** Starts `ollama-ring demo` and resolves with it and its gateway's URL, from the line it prints. */
export function startDemo(durationS: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'packages', 'server', 'bin', 'ollama-ring.js'), 'demo', '--duration', String(durationS), '--no-color'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /Gateway on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) {
        child.stdout?.removeAllListeners('data');
        child.stdout?.resume();
        resolve({ child, url: m[1] });
      }
    });
    child.once('exit', (code) => reject(new Error(`ollama-ring demo exited (${code}) before its gateway was up:\n${out}`)));
  });
}

/** Ends the demo (Ctrl-C: the traffic stops, it prints its summary and shuts down) and waits for it. */
export async function stopDemo(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGINT');
  await exited;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const out = String(args.flags.get('out') ?? join(ROOT, 'docs', 'dashboard.png'));
  const afterS = Number(args.flags.get('after') ?? 12);
  const started = Date.now();
  const { child, url } = await startDemo(30);
  try {
    const browser = await launchChromium({ width: 1400, height: 700 });
    try {
      const page = await browser.context.newPage();
      // Opened early, so the charts hold the run so far (the page also gets the gateway's history).
      await page.goto(`${url}/dashboard`);
      await page.waitForSelector('[data-node]');
      await new Promise((r) => setTimeout(r, Math.max(0, started + afterS * 1000 - Date.now())));
      // The burst's queue makes the picture: wait for it (the page says how many wait), but not forever.
      const queued = async () => Number(await page.locator('#depth').textContent()) >= 3;
      while (!(await queued()) && Date.now() - started < 25_000) await new Promise((r) => setTimeout(r, 100));
      await page.screenshot({ path: out, fullPage: true });
      process.stdout.write(`wrote ${out}\n`);
    } finally {
      await browser.close();
    }
  } finally {
    await stopDemo(child);
  }
}

if (require.main === module)
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
