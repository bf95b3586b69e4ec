// The failure-mode suite again, with dispatch on worker threads: same behaviour whatever the placement.
process.env.OLLAMA_RING_TEST_PLACEMENT = 'workers';
require('./failures.test');
