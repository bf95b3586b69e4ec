// Tests run from TypeScript source through @swc/jest (fast, no type-check); `tsc -b` and
// `tsc -p tsconfig.tests.json` do the type-checking in scripts/test. Worker-thread entries are
// loaded from each package's compiled dist/, so scripts/test builds before it runs jest.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/bench'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.(t|j)s$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      },
    ],
  },
  moduleNameMapper: {
    '^@ollama-ring/(disruptor|protocol|ollama-sim|balancer|server)$': '<rootDir>/packages/$1/src/index.ts',
  },
  testTimeout: 60000,
};
