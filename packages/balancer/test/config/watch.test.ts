import { mkdirSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors';
import { watchConfig, type BalancerConfig, type ConfigWatcher } from '../../src/config';
import { eventually, tempDir } from './helpers';

const yamlFor = (port: number, extra = '') => `server: { port: ${port} }\nnodes: [a:1]\n${extra}`;
const FAST = { env: {}, debounceMs: 20, stabilityMs: 40 };

/** File-watch handles currently open in this process (fs.watch and fs.watchFile). */
const watchHandles = () => process.getActiveResourcesInfo().filter((r) => /FSEvent|StatWatcher/.test(r)).length;

describe('watchConfig', () => {
  let t: ReturnType<typeof tempDir>;
  let w: ConfigWatcher | undefined;
  let changes: BalancerConfig[];
  let errors: Error[];

  const start = async (file: string) => {
    w = watchConfig(
      file,
      (c) => changes.push(c),
      (e) => errors.push(e),
      FAST,
    );
    await w.ready;
    return w;
  };

  beforeEach(() => {
    t = tempDir('ollama-ring-watch-');
    changes = [];
    errors = [];
  });
  afterEach(async () => {
    await w?.close();
    w = undefined;
    t.remove();
  });

  test('a good edit is delivered; the initial load is the baseline, not a change', async () => {
    const file = t.write('c.yaml', yamlFor(1000));
    const watcher = await start(file);
    expect(watcher.current()?.config.server.port).toBe(1000);
    writeFileSync(file, yamlFor(2000));
    await eventually(() => changes.length === 1, 4000, 'the change');
    expect(changes[0].server.port).toBe(2000);
    expect(watcher.current()?.config.server.port).toBe(2000);
    expect(errors).toEqual([]);
  });

  test('a bad edit keeps the last good config and reports the key and line; the fix is delivered', async () => {
    const file = t.write('c.yaml', yamlFor(1000));
    const watcher = await start(file);
    writeFileSync(file, 'server:\n  port: 1000\nnodes: [a:1]\ndisruptor:\n  ringBufferSize: 1000\n');
    await eventually(() => errors.length === 1, 4000, 'the error');
    expect(errors[0]).toBeInstanceOf(ConfigError);
    expect((errors[0] as ConfigError).issues).toEqual([{ path: 'disruptor.ringBufferSize', message: 'must be a power of two (got 1000)', file, line: 5 }]);
    expect(errors[0].message).toContain(`${file}:5`);
    expect(watcher.current()?.config.disruptor.ringBufferSize).toBe(1024);
    expect(changes).toEqual([]);

    writeFileSync(file, 'server:\n  port: 1\n port: 2\n');
    await eventually(() => errors.length === 2, 4000, 'the syntax error');
    expect((errors[1] as ConfigError).issues[0]).toMatchObject({ file, line: 3 });

    writeFileSync(file, yamlFor(3000));
    await eventually(() => changes.length === 1, 4000, 'the fix');
    expect(changes[0].server.port).toBe(3000);
  });

  test('an edit that leaves the effective config unchanged (a comment) is not reported', async () => {
    const file = t.write('c.yaml', yamlFor(1000));
    await start(file);
    writeFileSync(file, yamlFor(1000, '# just a comment\n'));
    writeFileSync(join(t.dir, 'unrelated.yaml'), 'x: 1\n');
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(file, yamlFor(1001));
    await eventually(() => changes.length === 1, 4000, 'the real change');
    expect(changes.map((c) => c.server.port)).toEqual([1001]);
  });

  test('an editor-style atomic save (write a temp file, rename over) is delivered', async () => {
    const file = t.write('c.yaml', yamlFor(1000));
    await start(file);
    const tmp = join(t.dir, '.c.yaml.swp');
    writeFileSync(tmp, yamlFor(4000));
    renameSync(tmp, file);
    await eventually(() => changes.length === 1, 4000, 'the change');
    expect(changes[0].server.port).toBe(4000);
  });

  test('a Kubernetes ConfigMap swap (the ..data symlink re-pointed) is delivered', async () => {
    // Layout as the kubelet writes it: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>
    mkdirSync(join(t.dir, '..v1'));
    writeFileSync(join(t.dir, '..v1', 'config.yaml'), yamlFor(1000));
    symlinkSync('..v1', join(t.dir, '..data'));
    symlinkSync(join('..data', 'config.yaml'), join(t.dir, 'config.yaml'));
    const watcher = await start(join(t.dir, 'config.yaml'));
    expect(watcher.current()?.config.server.port).toBe(1000);

    mkdirSync(join(t.dir, '..v2'));
    writeFileSync(join(t.dir, '..v2', 'config.yaml'), yamlFor(5000));
    symlinkSync('..v2', join(t.dir, '..data_tmp'));
    renameSync(join(t.dir, '..data_tmp'), join(t.dir, '..data'));
    await eventually(() => changes.length === 1, 4000, 'the swap');
    expect(changes[0].server.port).toBe(5000);
  });

  test('a deleted file is reported and the last good config kept; its return is picked up', async () => {
    const file = t.write('c.yaml', yamlFor(1000));
    const watcher = await start(file);
    unlinkSync(file);
    await eventually(() => errors.length >= 1, 4000, 'the error');
    expect(errors[0].message).toMatch(/cannot read/);
    expect(watcher.current()?.config.server.port).toBe(1000);
    writeFileSync(file, yamlFor(6000));
    await eventually(() => changes.length === 1, 4000, 'the return');
    expect(changes[0].server.port).toBe(6000);
  });

  test('a throwing onChange goes to onError, and the watcher keeps going', async () => {
    const file = t.write('c.yaml', yamlFor(1000));
    let calls = 0;
    w = watchConfig(
      file,
      () => {
        calls++;
        throw new Error('handler broke');
      },
      (e) => errors.push(e),
      FAST,
    );
    await w.ready;
    writeFileSync(file, yamlFor(2000));
    await eventually(() => errors.length === 1, 4000, 'the handler error');
    expect(errors[0].message).toBe('handler broke');
    writeFileSync(file, yamlFor(3000));
    await eventually(() => calls === 2, 4000, 'the second change');
  });

  test('a bad file at start is reported; the first good version is then delivered', async () => {
    const file = t.write('c.yaml', 'server: { port: -1 }\n');
    const watcher = await start(file);
    expect(errors).toHaveLength(1);
    expect(watcher.current()).toBeUndefined();
    writeFileSync(file, yamlFor(1234));
    await eventually(() => changes.length === 1, 4000, 'the good version');
  });

  test('close() releases every handle and stops callbacks', async () => {
    const before = watchHandles();
    const file = t.write('c.yaml', yamlFor(1000));
    const watcher = await start(file);
    expect(watchHandles()).toBeGreaterThan(before);
    writeFileSync(file, yamlFor(2000)); // an event in flight while closing
    await watcher.close();
    w = undefined;
    expect(watchHandles()).toBe(before);
    writeFileSync(file, yamlFor(3000));
    await new Promise((r) => setTimeout(r, 200));
    expect(changes.filter((c) => c.server.port === 3000)).toEqual([]);
    await watcher.close(); // idempotent
  });
});
