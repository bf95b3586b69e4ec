import { normalizeModel, sameModel } from '../src/model-names';

describe('normalizeModel', () => {
  test.each<[string, string]>([
    ['llama3.2', 'llama3.2:latest'],
    ['llama3.2:latest', 'llama3.2:latest'],
    ['LLaMA3.2:Latest', 'llama3.2:latest'],
    ['  llama3.2  ', 'llama3.2:latest'],
    ['qwen2.5:7b-instruct-q4_K_M', 'qwen2.5:7b-instruct-q4_k_m'],
    ['registry.ollama.ai/library/llama3.2', 'llama3.2:latest'],
    ['registry.ollama.ai/library/llama3.2:1b', 'llama3.2:1b'],
    ['myuser/mymodel', 'myuser/mymodel:latest'],
    ['myuser/mymodel:v2', 'myuser/mymodel:v2'],
    // A registry port is not a tag: the colon before the last slash does not count.
    ['localhost:5000/ns/model', 'localhost:5000/ns/model:latest'],
    ['localhost:5000/ns/model:tag', 'localhost:5000/ns/model:tag'],
    ['hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M', 'hf.co/bartowski/llama-3.2-1b-gguf:q4_k_m'],
  ])('%p → %p', (input, expected) => {
    expect(normalizeModel(input)).toBe(expected);
    expect(normalizeModel(expected)).toBe(expected); // idempotent
  });

  test.each<[string, string, boolean]>([
    ['llama3.2', 'LLAMA3.2:latest', true],
    ['llama3.2', 'registry.ollama.ai/library/llama3.2:latest', true],
    ['llama3.2', 'llama3.2:1b', false],
    ['llama3', 'llama3.2', false],
  ])('sameModel(%p, %p) = %p', (a, b, expected) => {
    expect(sameModel(a, b)).toBe(expected);
    expect(sameModel(b, a)).toBe(expected);
  });
});
