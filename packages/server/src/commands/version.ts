import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The package version. Read at run time because package.json sits outside the compiled rootDir;
 * this file is at the same depth in src/ and dist/, so one relative path serves both.
 */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
