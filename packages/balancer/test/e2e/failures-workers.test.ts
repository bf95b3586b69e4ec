// The failure-mode suite again, with dispatch on worker threads: same behaviour whatever the placement.
process.env.OLLAMA_RING_TEST_PLACEMENT = 'workers';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- runs that suite's tests here, after the env var is set
require('./failures.test');
