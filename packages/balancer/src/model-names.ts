/**
 * Ollama model names: `[host/][namespace/]model[:tag]`, matched case-insensitively, with the tag
 * defaulting to `latest`. `llama3.2` and `LLaMA3.2:latest` are the same model.
 */
export function normalizeModel(name: string): string {
  const n = name.trim().toLowerCase();
  const lastSlash = n.lastIndexOf('/');
  const hasTag = n.indexOf(':', lastSlash + 1) !== -1;
  let out = hasTag ? n : `${n}:latest`;
  if (out.startsWith('registry.ollama.ai/library/')) out = out.slice('registry.ollama.ai/library/'.length);
  return out;
}

/** True when two names denote the same model. */
export function sameModel(a: string, b: string): boolean {
  return normalizeModel(a) === normalizeModel(b);
}
