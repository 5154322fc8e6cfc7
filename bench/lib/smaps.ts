import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

/** One mapping of /proc/<pid>/smaps. */
export interface Mapping {
  start: number
  end: number
  perms: string
  /** The file, `[heap]`, `[stack]`, or '' for anonymous memory. */
  path: string
  sizeKb: number
  rssKb: number
  anonymousKb: number
}

/** Where a process' resident memory is, in KiB, by kind of mapping. */
export interface RssParts {
  rssKb: number
  /** glibc malloc's main arena (`[heap]`, grown with brk). */
  brkHeapKb: number
  /** Anonymous mappings: V8's heap pages, the other threads' malloc arenas, thread stacks, buffers mmapped by malloc. */
  anonKb: number
  /** Anonymous mappings of about 8 MB, each after a guard page: thread stacks (what of them is resident). */
  threadStacksKb: number
  threadStacks: number
  /** The executable itself (node's code and read-only data). */
  executableKb: number
  /** Shared libraries and native addons (`.so`, `.node`). */
  librariesKb: number
  /** Other files mapped (SQLite's `-shm`, locale data...). */
  otherFilesKb: number
  /** The main thread's stack. */
  mainStackKb: number
}

const field = (block: string, name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(block)?.[1] ?? 0)

/** Every mapping of a process (readable for a process of the same user). */
export function readSmaps(pid: number): Mapping[] {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8')
  const blocks = text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)
  return blocks.filter((b) => b.trim() !== '').map((block) => {
    const header = block.slice(0, block.indexOf('\n'))
    const [range, perms, , , , ...rest] = header.split(/\s+/)
    const [start, end] = range!.split('-').map((h) => Number.parseInt(h, 16))
    return { start: start!, end: end!, perms: perms!, path: rest.join(' '), sizeKb: field(block, 'Size'), rssKb: field(block, 'Rss'), anonymousKb: field(block, 'Anonymous') }
  })
}

/** The process' RSS split by kind of mapping (`executable` is the path of its program, e.g. process.execPath). */
export function rssParts(pid: number, executable: string): RssParts {
  const maps = readSmaps(pid)
  const parts: RssParts = { rssKb: 0, brkHeapKb: 0, anonKb: 0, threadStacksKb: 0, threadStacks: 0, executableKb: 0, librariesKb: 0, otherFilesKb: 0, mainStackKb: 0 }
  maps.forEach((m, i) => {
    parts.rssKb += m.rssKb
    if (m.path === '[heap]') parts.brkHeapKb += m.rssKb
    else if (m.path === '[stack]') parts.mainStackKb += m.rssKb
    else if (m.path === '' || m.path.startsWith('[anon')) {
      // pthread stacks: an 8 MiB read-write mapping right after its PROT_NONE guard page.
      const before = maps[i - 1]
      const stack = m.perms.startsWith('rw') && Math.abs(m.sizeKb - 8192) <= 8 && before?.perms === '---p' && before.end === m.start && before.sizeKb <= 64
      if (stack) {
        parts.threadStacksKb += m.rssKb
        parts.threadStacks++
      } else parts.anonKb += m.rssKb
    } else if (m.path.startsWith('[')) parts.otherFilesKb += m.rssKb
    else if (m.path === executable || basename(m.path) === basename(executable)) parts.executableKb += m.rssKb
    else if (/\.(so(\.\d+)*|node)$/.test(m.path)) parts.librariesKb += m.rssKb
    else parts.otherFilesKb += m.rssKb
  })
  return parts
}
