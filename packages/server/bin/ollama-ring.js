#!/usr/bin/env node
// Committed shim so that pnpm can link the bin before the TypeScript build has run.
require('../dist/cli.js');
