/**
 * Hot reload. The watcher watches the file's *directory* (depth 0), not the file: editors replace
 * the file by rename, and Kubernetes swaps a ConfigMap by re-pointing the `..data` symlink, so
 * neither changes the inode a file watch would hold. On any event for the file or a `..*` entry it
 * re-reads the file and reloads only if the bytes changed. A bad edit keeps the last good config
 * and goes to `onError`; nothing is ever thrown into chokidar.
 */
import { watch, type FSWatcher } from 'chokidar';
import { basename, dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { loadFileText, readConfigFile, type LoadedConfig, type LoadOptions } from './load';
import type { BalancerConfig } from './types';

/**
 * Options of `watchConfig`: the load options plus timing.
 *
 * @example watchConfig('config.yaml', apply, report, { debounceMs: 250, usePolling: true });
 */
export interface WatchOptions extends LoadOptions {
  /** Quiet time after the last event before reloading (ms, default 100). */
  debounceMs?: number;
  /** How long the file size must hold still before chokidar reports a write (ms, default 200). */
  stabilityMs?: number;
  /** Poll instead of fs.watch, for network file systems where events do not arrive. */
  usePolling?: boolean;
}

/**
 * A running watch.
 *
 * @example const w = watchConfig('config.yaml', apply, report); await w.ready; w.current()?.config; await w.close();
 */
export interface ConfigWatcher {
  /** Resolves once the watch is in place; edits before it may be missed. */
  readonly ready: Promise<void>;
  /** The last config that loaded, or undefined if none has yet. */
  current(): LoadedConfig | undefined;
  /** Stops watching; resolves when every handle is released. */
  close(): Promise<void>;
}

/**
 * Watches a config file. The file is loaded once at the start (as the baseline, not reported to
 * `onChange`; a failure goes to `onError`). After that each changed, valid version whose effective
 * config differs goes to `onChange`; each invalid one to `onError`, keeping the last good config.
 * Env overrides come from `options.env`, default `process.env`, read at each reload.
 *
 * @example const w = watchConfig('config.yaml', (cfg) => factory.reload(cfg), (err) => log.warn(err.message)); await w.close();
 */
export function watchConfig(
  path: string,
  onChange: (config: BalancerConfig, loaded: LoadedConfig) => void,
  onError: (err: Error) => void,
  options: WatchOptions = {},
): ConfigWatcher {
  const file = resolve(path);
  const dir = dirname(file);
  const name = basename(file);
  const debounceMs = options.debounceMs ?? 100;
  const stabilityMs = options.stabilityMs ?? 200;
  let lastGood: LoadedConfig | undefined;
  let lastText: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const report = (err: unknown): void => {
    if (closed) return;
    try {
      onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // The caller's handler failed; there is nobody left to tell, and chokidar must not see it.
    }
  };

  const reload = (): void => {
    timer = undefined;
    if (closed) return;
    let text: string;
    try {
      text = readConfigFile(file);
    } catch (err) {
      lastText = undefined; // so the file's return is picked up even with the same bytes
      report(err);
      return;
    }
    if (text === lastText) return;
    lastText = text;
    let loaded: LoadedConfig;
    try {
      loaded = loadFileText(file, text, { env: options.env ?? process.env, strategies: options.strategies });
    } catch (err) {
      report(err);
      return;
    }
    const changed = !lastGood || !isDeepStrictEqual(lastGood.config, loaded.config);
    lastGood = loaded;
    if (!changed) return;
    try {
      onChange(loaded.config, loaded);
    } catch (err) {
      report(err);
    }
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, debounceMs);
  };

  try {
    lastText = readConfigFile(file);
    lastGood = loadFileText(file, lastText, { env: options.env ?? process.env, strategies: options.strategies });
  } catch (err) {
    report(err);
  }

  const watcher: FSWatcher = watch(dir, {
    depth: 0,
    ignoreInitial: true,
    persistent: true,
    usePolling: options.usePolling ?? false,
    atomic: true,
    awaitWriteFinish: { stabilityThreshold: stabilityMs, pollInterval: Math.max(10, Math.min(50, stabilityMs / 2)) },
    // Only the file and ConfigMap internals (`..data`, `..2024_…`) matter; other files in a shared
    // directory (/etc) would only cost handles.
    ignored: (p: string) => p !== dir && basename(p) !== name && !basename(p).startsWith('..'),
  });
  watcher.on('all', schedule);
  watcher.on('error', report);
  const ready = new Promise<void>((res) => watcher.once('ready', () => res()));

  return {
    ready,
    current: () => lastGood,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await watcher.close();
      // fs.watch handles finish closing in libuv's close phase, after chokidar's promise settles;
      // one timer turn later they are gone, so "closed" really means no handle is left open.
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}
