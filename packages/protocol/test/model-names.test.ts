import { displayName, fullName, nameKey, normalizeModel, parseModelName, sameModel, shortestOrRaw } from '@ollama-ring/protocol';

describe('normalizeModel: one key per model', () => {
  test.each<[string, string]>([
    ['llama3.2', 'llama3.2:latest'],
    ['llama3.2:latest', 'llama3.2:latest'],
    ['LLaMA3.2:Latest', 'llama3.2:latest'],
    ['  llama3.2  ', 'llama3.2:latest'],
    ['qwen2.5:7b-instruct-q4_K_M', 'qwen2.5:7b-instruct-q4_k_m'],
    ['registry.ollama.ai/library/llama3.2', 'llama3.2:latest'],
    ['registry.ollama.ai/library/llama3.2:1b', 'llama3.2:1b'],
    // The default namespace and host are defaults wherever they are written out.
    ['library/llama3.2', 'llama3.2:latest'],
    ['library/llama3.2:1b', 'llama3.2:1b'],
    ['registry.ollama.ai/myuser/mymodel', 'myuser/mymodel:latest'],
    ['REGISTRY.OLLAMA.AI/Library/X', 'x:latest'],
    ['myuser/mymodel', 'myuser/mymodel:latest'],
    ['myuser/mymodel:v2', 'myuser/mymodel:v2'],
    // A registry port is not a tag: the colon before the last slash does not count.
    ['localhost:5000/ns/model', 'localhost:5000/ns/model:latest'],
    ['localhost:5000/ns/model:tag', 'localhost:5000/ns/model:tag'],
    ['hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M', 'hf.co/bartowski/llama-3.2-1b-gguf:q4_k_m'],
    // A digest pins a version of the same name.
    ['llama3.2@sha256:abc123', 'llama3.2:latest'],
    // Invalid names still get a stable key, which matches no valid name.
    ['bad name', 'bad name:latest'],
    ['a/b/c/d', 'a/b/c/d:latest'],
    ['', ':latest'],
  ])('%p → %p', (input, expected) => {
    expect(normalizeModel(input)).toBe(expected);
    expect(normalizeModel(expected)).toBe(expected); // idempotent
  });

  test.each<[string, string, boolean]>([
    ['llama3.2', 'LLAMA3.2:latest', true],
    ['llama3.2', 'registry.ollama.ai/library/llama3.2:latest', true],
    ['library/x', 'registry.ollama.ai/library/x:latest', true],
    ['x', 'library/x', true],
    ['llama3.2', 'llama3.2:1b', false],
    ['llama3', 'llama3.2', false],
    ['user/x', 'x', false],
  ])('sameModel(%p, %p) = %p', (a, b, expected) => {
    expect(sameModel(a, b)).toBe(expected);
    expect(sameModel(b, a)).toBe(expected);
  });
});

describe('parseModelName and its forms', () => {
  it.each([
    ['llama3.2', 'llama3.2:latest', 'registry.ollama.ai/library/llama3.2:latest'],
    ['Llama3.2:3B', 'Llama3.2:3B', 'registry.ollama.ai/library/Llama3.2:3B'],
    ['library/Llama3.2:3B', 'Llama3.2:3B', 'registry.ollama.ai/library/Llama3.2:3B'],
    ['user/model:v1', 'user/model:v1', 'registry.ollama.ai/user/model:v1'],
    ['host.example:5000/ns/m:t', 'host.example:5000/ns/m:t', 'host.example:5000/ns/m:t'],
  ])('%s shows as %s, in full %s', (raw, display, full) => {
    const n = parseModelName(raw)!;
    expect(displayName(n)).toBe(display);
    expect(fullName(n)).toBe(full);
    expect(nameKey(raw)).toBe(display.toLowerCase());
  });

  it.each(['', 'bad name', 'a/b/c/d', 'x:', ':tag', '-lead'])('rejects %j', (raw) => {
    expect(parseModelName(raw)).toBeUndefined();
    expect(nameKey(raw)).toBeUndefined();
  });

  test('shortestOrRaw names a valid name by its short form and leaves an invalid one alone', () => {
    expect(shortestOrRaw('registry.ollama.ai/library/xyz')).toBe('xyz:latest');
    expect(shortestOrRaw('bad name')).toBe('bad name');
  });
});
