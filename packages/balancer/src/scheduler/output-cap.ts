/** The body keys that cap a request's output: Ollama's `options.num_predict`, OpenAI's two. */
const KEYS = ['"num_predict"', '"max_tokens"', '"max_completion_tokens"'].map((k) => Buffer.from(k));

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * A request's output cap in tokens, read from its JSON body: `num_predict` (Ollama) or `max_tokens`
 * / `max_completion_tokens` (OpenAI), the first positive integer value found; undefined when none
 * (no cap, or -1/-2: "until the context is full").
 *
 * Validation's routing facts do not carry the cap (yet), so the scheduler reads it from the body
 * in the arena, once per request, without parsing the whole body: a byte search for the quoted key.
 * That search cannot be fooled by prompt text: inside a JSON string every `"` is escaped, so a
 * quoted key followed by an unescaped quote only occurs as a real key. A key nested elsewhere (in
 * a JSON schema, say) with a non-number value is skipped. The result only feeds estimates.
 */
export function outputCapFromBody(body: Uint8Array): number | undefined {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (const key of KEYS) {
    let at = buf.indexOf(key);
    while (at >= 0) {
      const v = numberAfterColon(buf, at + key.length);
      if (v !== undefined && v > 0) return v;
      at = buf.indexOf(key, at + key.length);
    }
  }
  return undefined;
}

function numberAfterColon(buf: Buffer, i: number): number | undefined {
  while (i < buf.length && SPACE.has(buf[i])) i++;
  if (buf[i] !== 0x3a) return undefined; // ':'
  i++;
  while (i < buf.length && SPACE.has(buf[i])) i++;
  let j = i;
  if (buf[j] === 0x2d) j++; // '-'
  while (j < buf.length && ((buf[j] >= 0x30 && buf[j] <= 0x39) || buf[j] === 0x2e)) j++;
  if (j === i) return undefined;
  const v = Number(buf.toString('latin1', i, j));
  return Number.isFinite(v) ? Math.floor(v) : undefined;
}
