#!/usr/bin/env node
// The heap is sized before the program is loaded: loading it is what first
// grows the young generation (dist/process/heap-tuning.js says why).
import { tuneHeap } from '../dist/process/heap-tuning.js'

tuneHeap()
const { main } = await import('../dist/cli/index.js')

main(process.argv.slice(2)).then((code) => {
  if (typeof code === 'number') process.exitCode = code
})
