import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');

/**
 * The README's global install, for real: `scripts/pack-server` makes one tarball, `npm i -g` of it
 * into a fresh prefix works with `--offline` (everything it needs is inside), and the installed
 * `ollama-ring` runs outside the repository, its demo included. Slow (a build check, a deploy, an
 * install, a one-second demo): about 40 s.
 */
describe('npm i -g of the packed server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ollama-ring-pack-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('scripts/pack-server, then npm i -g --offline, puts a working ollama-ring on the PATH', async () => {
    const packed = await run(join(ROOT, 'scripts', 'pack-server'), [join(dir, 'out')], { cwd: ROOT, maxBuffer: 1 << 24 });
    const tarball = packed.stdout.trim().split('\n').at(-1)!;
    expect(tarball).toMatch(/ollama-ring-server-\d+\.\d+\.\d+\.tgz$/);
    // Only the tarball: the workspace is left as it was (the script checks its package.json files).
    expect(readdirSync(join(dir, 'out'))).toHaveLength(1);

    const prefix = join(dir, 'prefix');
    await run('npm', ['i', '-g', tarball, '--prefix', prefix, '--offline', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 1 << 24 });
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` };
    const version = await run('ollama-ring', ['--version'], { cwd: dir, env });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    // Beyond the entry point: the bundled balancer loads and validates a config.
    const check = await run('ollama-ring', ['check-config', '--json'], { cwd: dir, env: { ...env, OLLAMA_RING_NODES: 'gpu-1=http://10.0.0.5:11434*4' } });
    expect(JSON.parse(check.stdout)).toMatchObject({ nodes: [{ id: 'gpu-1', url: 'http://10.0.0.5:11434', maxConcurrentRequests: 4 }] });
    // The /docs page's files are in it; swagger-ui-dist's install-time usage report is not.
    const installed = join(prefix, 'lib', 'node_modules', '@ollama-ring', 'server', 'node_modules');
    expect(existsSync(join(installed, 'swagger-ui-dist', 'swagger-ui-bundle.js'))).toBe(true);
    expect(existsSync(join(installed, '@scarf'))).toBe(false);
    // So are the /dashboard page's: its own script beside dist/, and uPlot's.
    expect(existsSync(join(installed, '..', 'static', 'dashboard', 'dashboard.js'))).toBe(true);
    expect(existsSync(join(installed, 'uplot', 'dist', 'uPlot.iife.min.js'))).toBe(true);
    // The demo's optional dependencies (the emulator, the ollama client) are in the tarball too.
    const demo = await run('ollama-ring', ['demo', '--duration', '1', '--no-color'], { cwd: dir, env, maxBuffer: 1 << 24 });
    expect(demo.stdout).toMatch(/Shut down: gateway drained and closed/);
  }, 180_000);
});
