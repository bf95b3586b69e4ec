import type OpenAI from 'openai';
import { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';

/** One input line of a batch. */
export const chatLine = (id: string, text = `say ${id}`) => ({
  custom_id: id,
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model: 'llama3.2', messages: [{ role: 'user', content: text }] },
});
export const embedLine = (id: string) => ({ custom_id: id, method: 'POST', url: '/v1/embeddings', body: { model: 'nomic-embed-text', input: `text ${id}` } });

export const jsonl = (lines: unknown[]): string => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';

/** Uploads `text` as a batch input file. */
export async function upload(client: OpenAI, text: string): Promise<string> {
  const f = await client.files.create({ file: await toFile(Buffer.from(text), 'input.jsonl'), purpose: 'batch' });
  return f.id;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled', 'expired']);

/** Polls a batch until it has ended (or `ms` passes). */
export async function until(client: OpenAI, id: string, done: (b: Batch) => boolean = (b) => FINISHED.has(b.status), ms = 30_000): Promise<Batch> {
  const end = Date.now() + ms;
  for (;;) {
    const b = await client.batches.retrieve(id);
    if (done(b)) return b;
    if (Date.now() > end) throw new Error(`batch ${id} still ${b.status} after ${ms} ms: ${JSON.stringify(b.request_counts)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A result line of an output or error file. */
export interface Result {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, unknown> } | null;
  error: { code: string; message: string } | null;
}

/** The lines of a file, parsed (none for a null id). */
export async function results(client: OpenAI, fileId: string | null | undefined): Promise<Result[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Result);
}

/** How many times each custom_id appears over the batch's output and error files. */
export async function answers(client: OpenAI, b: Batch): Promise<{ out: Result[]; err: Result[]; counts: Map<string, number> }> {
  const out = await results(client, b.output_file_id);
  const err = await results(client, b.error_file_id);
  const counts = new Map<string, number>();
  for (const r of [...out, ...err]) counts.set(r.custom_id, (counts.get(r.custom_id) ?? 0) + 1);
  return { out, err, counts };
}
