import { arr, bool, int, map, num, obj, oneOf, ref, type Schema, str } from './schema-kit';

// The request and response bodies of the Ollama and OpenAI APIs the gateway serves, as the nodes
// (Ollama) define them: the gateway passes them through, adding only `ollama_ring` fields to the
// merged listings. Fields the gateway does not read are listed for the reader; unknown ones pass.

const duration = oneOf(num('seconds; negative keeps the model loaded for ever'), str('a Go duration: "5m", "0", "-1m"'));
const format = oneOf({ type: 'string', enum: ['json'] }, { type: 'object', description: 'a JSON schema the output must follow' });
const think = oneOf(bool(), { type: 'string', enum: ['low', 'medium', 'high', 'max'] });
const options = obj(
  {
    num_predict: int('most tokens to generate'),
    num_ctx: int('context window; another value than the loaded one reloads the model'),
    temperature: num(),
    top_k: int(),
    top_p: num(),
    seed: int(),
    stop: arr(str()),
  },
  [],
  'Model options (`api.Options`); the ones the balancer reads are listed, others pass through.',
);

/** The balancer's own body fields, the Java balancer's hint names (headers `X-Ollama-Ring-*` do the same). */
const hintFields: Record<string, Schema> = {
  priority: oneOf(int(), { type: 'string', enum: ['high', 'normal', 'low'] }),
  instance_tags: arr(str(), 'only nodes carrying every tag'),
  require_gpu: bool('only nodes tagged `gpu`'),
  load_balancing_strategy: str('the strategy for this request'),
  fallback_model: str('served instead when the model cannot be served in time: installed nowhere, its nodes down, open or draining, or all predicted past the deadline or budget'),
  max_latency: int('latency budget: ms from arrival until the answer begins; every strategy avoids nodes predicted to miss it'),
  complexity: str("a hint the hybrid strategy's rules match (e.g. low, high)"),
};

/** The fields `/api/generate` and `/api/chat` share. */
const generationFields: Record<string, Schema> = {
  stream: bool('default true'),
  format,
  keep_alive: duration,
  options,
  think,
  truncate: bool(),
  shift: bool(),
  logprobs: bool(),
  top_logprobs: int('0-20'),
  ...hintFields,
};

const metrics: Record<string, Schema> = {
  total_duration: int('ns'),
  load_duration: int('ns'),
  prompt_eval_count: int(),
  prompt_eval_duration: int('ns'),
  eval_count: int(),
  eval_duration: int('ns'),
};

const message = obj(
  {
    role: { type: 'string', enum: ['system', 'user', 'assistant', 'tool'] },
    content: str(),
    thinking: str(),
    images: arr(str('base64')),
    tool_calls: arr(obj({ id: str(), function: obj({ index: int(), name: str(), arguments: { type: 'object' } }) })),
    tool_name: str(),
    tool_call_id: str(),
  },
  ['role'],
);

const modelDetails = obj({ parent_model: str(), format: str(), family: str(), families: arr(str()), parameter_size: str(), quantization_level: str() });
const ringNodes = obj({ nodes: arr(str()) }, ['nodes'], 'Added by the gateway: the nodes that have it.');

const progress = obj({ status: str(), digest: str(), total: int(), completed: int(), error: str() }, [], 'One NDJSON line of progress; an `error` line ends a failed stream.');

const openAIMessage = obj({ role: str(), content: oneOf(str(), arr({ type: 'object' }), { type: 'null' }), tool_calls: arr({ type: 'object' }) }, ['role']);
const usage = obj({ prompt_tokens: int(), completion_tokens: int(), total_tokens: int() });

/** Component schemas of the Ollama and OpenAI APIs, by name. */
export const API_SCHEMAS: Record<string, Schema> = {
  OllamaError: obj({ error: str() }, ['error'], "Ollama's error shape."),
  OpenAIError: obj({ error: obj({ message: str(), type: str(), param: {}, code: {} }, ['message', 'type']) }, ['error'], "OpenAI's error shape."),
  GenerateRequest: obj(
    {
      model: str(),
      prompt: str(),
      suffix: str(),
      system: str(),
      template: str(),
      context: arr(int(), 'deprecated'),
      raw: bool(),
      images: arr(str('base64')),
      ...generationFields,
    },
    ['model'],
  ),
  GenerateResponse: obj(
    { model: str(), created_at: str(), response: str(), thinking: str(), done: bool(), done_reason: str('stop, length, load or unload'), context: arr(int()), ...metrics },
    ['model', 'created_at', 'response', 'done'],
    'A streamed chunk (NDJSON line), or with `stream: false` the whole answer.',
  ),
  ChatRequest: obj(
    {
      model: str(),
      messages: arr(message),
      tools: arr(obj({ type: str(), function: obj({ name: str(), description: str(), parameters: { type: 'object' } }) })),
      ...generationFields,
    },
    ['model'],
  ),
  ChatResponse: obj(
    { model: str(), created_at: str(), message, done: bool(), done_reason: str(), ...metrics },
    ['model', 'created_at', 'message', 'done'],
    'A streamed chunk (NDJSON line), or with `stream: false` the whole answer.',
  ),
  EmbedRequest: obj({ model: str(), input: oneOf(str(), arr(str())), truncate: bool('default true'), dimensions: int(), keep_alive: duration, options, ...hintFields }, ['model']),
  EmbedResponse: obj({ model: str(), embeddings: arr(arr(num())), total_duration: int(), load_duration: int(), prompt_eval_count: int() }, ['model', 'embeddings']),
  EmbeddingsRequest: obj({ model: str(), prompt: str(), keep_alive: duration, options, ...hintFields }, ['model']),
  EmbeddingsResponse: obj({ embedding: arr(num()) }, ['embedding']),
  VersionResponse: obj({ version: str('the oldest version among the nodes that answered'), ollama_ring: obj({ version: str('the gateway'), nodes: map(str(), 'each node') }) }, [
    'version',
  ]),
  ModelList: obj(
    {
      models: arr(
        obj(
          {
            name: str(),
            model: str(),
            modified_at: str(),
            size: int(),
            digest: str(),
            details: modelDetails,
            expires_at: str('`/api/ps`'),
            size_vram: int('`/api/ps`'),
            ollama_ring: ringNodes,
          },
          ['name', 'model'],
        ),
      ),
    },
    ['models'],
    'Merged over the nodes that can serve; `/api/ps` adds `expires_at` and `size_vram`.',
  ),
  ModelRequest: obj({ model: str(), name: str('the older spelling of `model`') }, [], 'Names a model (`model`, or `name`).'),
  ShowRequest: obj({ model: str(), name: str(), verbose: bool() }),
  ShowResponse: obj({
    license: str(),
    modelfile: str(),
    parameters: str(),
    template: str(),
    system: str(),
    details: modelDetails,
    model_info: { type: 'object' },
    capabilities: arr(str()),
    modified_at: str(),
  }),
  PullRequest: obj({ model: str(), name: str(), insecure: bool(), stream: bool('default true') }),
  PushRequest: obj({ model: str(), name: str(), insecure: bool(), stream: bool('default true') }),
  CreateRequest: obj({ model: str(), from: str(), files: map(str()), system: str(), template: str(), parameters: { type: 'object' }, quantize: str(), stream: bool() }, ['model']),
  CopyRequest: obj({ source: str(), destination: str() }, ['source', 'destination']),
  Progress: progress,
  ChatCompletionRequest: obj(
    {
      model: str(),
      messages: arr(openAIMessage),
      stream: bool(),
      stream_options: obj({ include_usage: bool() }),
      max_tokens: int(),
      temperature: num(),
      top_p: num(),
      seed: int(),
      stop: oneOf(str(), arr(str())),
      tools: arr({ type: 'object' }),
      response_format: { type: 'object' },
      ...hintFields,
    },
    ['model', 'messages'],
  ),
  ChatCompletion: obj(
    {
      id: str(),
      object: str('`chat.completion`, or `chat.completion.chunk` per SSE event'),
      created: int(),
      model: str(),
      choices: arr(obj({ index: int(), message: openAIMessage, delta: openAIMessage, finish_reason: { type: ['string', 'null'] } })),
      usage,
    },
    ['id', 'object', 'choices'],
  ),
  CompletionRequest: obj(
    { model: str(), prompt: str(), stream: bool(), max_tokens: int(), temperature: num(), top_p: num(), seed: int(), stop: oneOf(str(), arr(str())), suffix: str(), ...hintFields },
    ['model', 'prompt'],
  ),
  Completion: obj(
    {
      id: str(),
      object: str('`text_completion`'),
      created: int(),
      model: str(),
      choices: arr(obj({ index: int(), text: str(), finish_reason: { type: ['string', 'null'] } })),
      usage,
    },
    ['id', 'object', 'choices'],
  ),
  OpenAIEmbeddingRequest: obj({ model: str(), input: oneOf(str(), arr(str())), dimensions: int(), encoding_format: str(), ...hintFields }, ['model', 'input']),
  OpenAIEmbeddingList: obj(
    { object: str('`list`'), data: arr(obj({ object: str(), embedding: arr(num()), index: int() })), model: str(), usage: obj({ prompt_tokens: int(), total_tokens: int() }) },
    ['object', 'data'],
  ),
  OpenAIModel: obj(
    { id: str(), object: str('`model`'), created: int('Unix seconds'), owned_by: str(), ollama_ring: ringNodes },
    ['id', 'object', 'created', 'owned_by'],
    "A model in OpenAI's shape.",
  ),
  OpenAIModelList: obj({ object: str('`list`'), data: arr(ref('OpenAIModel')) }, ['object', 'data']),
};
