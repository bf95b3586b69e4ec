import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/**
 * Runs the backend's Lua scripts by their SHA (`EVALSHA`), sending a script's text (`EVAL`) only
 * when Redis does not know it: the first time, and after a restart (the script cache is not kept).
 */
export class ScriptRunner {
  private readonly shas = new Map<string, string>();

  constructor(private readonly client: Redis) {}

  async run(script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    let sha = this.shas.get(script);
    if (sha === undefined) {
      sha = createHash('sha1').update(script).digest('hex');
      this.shas.set(script, sha);
    }
    try {
      return await this.client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
      return this.client.eval(script, keys.length, ...keys, ...args);
    }
  }
}
