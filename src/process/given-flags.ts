/**
 * The V8 and Node.js flags named on a process' command line and in
 * NODE_OPTIONS, without their values and with `_` read as `-` (V8 takes
 * both): what an operator chose, which the broker's own settings leave be.
 */
export function givenFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS): Set<string> {
  const words = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)]
  return new Set(words.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]!.replace(/_/g, '-')))
}
