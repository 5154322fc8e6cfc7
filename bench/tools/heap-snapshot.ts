import { readFileSync } from 'node:fs'

/**
 * A V8 heap snapshot (`.heapsnapshot`, as `node --heapsnapshot-signal` or
 * the inspector writes it) read into flat arrays: each node's group (its
 * constructor for objects, its function name for closures, its kind for
 * strings, arrays, code and native memory), id and own size.
 */
export interface HeapSnapshot {
  count: number
  ids: Float64Array
  sizes: Float64Array
  /** Index into `groups` for each node. */
  group: Uint32Array
  groups: string[]
  totalBytes: number
}

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number }
  nodes: number[]
  strings: string[]
}

/** The group a node is counted in: what DevTools' summary view shows, with closures and native parts named. */
function groupOf(type: string, name: string): string {
  switch (type) {
    case 'object':
      return name
    case 'closure':
      return `closure ${name || '(anonymous)'}`
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)'
    case 'native':
      return `native ${name}`
    case 'hidden':
    case 'array':
    case 'code':
      // Names of internal arrays say what holds them: "(object properties)", "(object elements)", "system / Context".
      return `(${type}) ${name.startsWith('(') || name.startsWith('system') ? name : ''}`.trim()
    default:
      return `(${type})`
  }
}

export function readHeapSnapshot(file: string): HeapSnapshot {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot
  const fields = raw.snapshot.meta.node_fields
  const types = raw.snapshot.meta.node_types[0]
  const width = fields.length
  const [typeAt, nameAt, idAt, sizeAt] = ['type', 'name', 'id', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number, number]
  const count = raw.nodes.length / width
  const ids = new Float64Array(count)
  const sizes = new Float64Array(count)
  const group = new Uint32Array(count)
  const groups: string[] = []
  const index = new Map<string, number>()
  let totalBytes = 0
  for (let i = 0; i < count; i++) {
    const at = i * width
    const key = groupOf(types[raw.nodes[at + typeAt]!]!, raw.strings[raw.nodes[at + nameAt]!]!)
    let g = index.get(key)
    if (g === undefined) {
      g = groups.push(key) - 1
      index.set(key, g)
    }
    group[i] = g
    ids[i] = raw.nodes[at + idAt]!
    sizes[i] = raw.nodes[at + sizeAt]!
    totalBytes += sizes[i]!
  }
  return { count, ids, sizes, group, groups, totalBytes }
}

export interface GroupGrowth {
  group: string
  /** Objects of the group in the later snapshot that the earlier one did not have. */
  newObjects: number
  newBytes: number
  /** The group's size in the later snapshot minus the earlier one's. */
  netBytes: number
}

/**
 * What the later snapshot holds that the earlier one did not, by group. V8
 * keeps a node's id across snapshots of one process, so a new object is one
 * whose id the earlier snapshot lacks; the net change says what was freed
 * meanwhile too.
 */
export function heapGrowth(before: HeapSnapshot, after: HeapSnapshot): GroupGrowth[] {
  const known = new Set<number>()
  for (let i = 0; i < before.count; i++) known.add(before.ids[i]!)
  const byGroup = new Map<string, GroupGrowth>()
  const entry = (group: string) => {
    let e = byGroup.get(group)
    if (!e) byGroup.set(group, (e = { group, newObjects: 0, newBytes: 0, netBytes: 0 }))
    return e
  }
  for (let i = 0; i < before.count; i++) entry(before.groups[before.group[i]!]!).netBytes -= before.sizes[i]!
  for (let i = 0; i < after.count; i++) {
    const e = entry(after.groups[after.group[i]!]!)
    e.netBytes += after.sizes[i]!
    if (!known.has(after.ids[i]!)) {
      e.newObjects++
      e.newBytes += after.sizes[i]!
    }
  }
  return [...byGroup.values()].sort((a, b) => b.newBytes - a.newBytes)
}
