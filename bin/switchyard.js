#!/usr/bin/env node
// The heap is sized before the program is loaded: loading it is what first
// grows the young generation (dist/process/heap-tuning.js says why). The
// libraries' debug loggers are made quiet before the libraries are loaded
// (dist/process/quiet-debug.js). A nextTick entry is kept before the first
// full collection can free its shape (dist/process/tick-shape.js).
import { tuneHeap } from '../dist/process/heap-tuning.js'
import { quietDebugLoggers } from '../dist/process/quiet-debug.js'
import { keepTickObjectShape } from '../dist/process/tick-shape.js'

keepTickObjectShape()
tuneHeap()
quietDebugLoggers()
const { main } = await import('../dist/cli/index.js')

main(process.argv.slice(2)).then((code) => {
  if (typeof code === 'number') process.exitCode = code
})
