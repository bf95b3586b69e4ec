/** Command-line flags shared by every benchmark: `--quick`, `--json FILE`, and `--name value` pairs. */
export interface BenchArgs {
  quick: boolean;
  json?: string;
  /** Every `--key value` and `--flag` seen, for bench-specific options. */
  flags: Map<string, string | true>;
}

export function parseArgs(argv: readonly string[] = process.argv.slice(2)): BenchArgs {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    // Split at the first '=' only: a value may itself contain '=' (`--header=a=b`).
    const eq = a.indexOf('=');
    const key = eq === -1 ? a.slice(2) : a.slice(2, eq);
    const inline = eq === -1 ? undefined : a.slice(eq + 1);
    if (inline !== undefined) flags.set(key, inline);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags.set(key, argv[++i]);
    else flags.set(key, true);
  }
  const json = flags.get('json');
  if (json === true) throw new Error('--json needs a file name');
  return { quick: flags.has('quick'), json, flags };
}
