import { chromium, type Browser } from 'playwright-core'
import { requireCommand } from './require-command.js'
import type { AppFixture } from './use-app.js'
import { within } from './wait.js'

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']

/** How long Chromium is given to close before it is killed. */
const CLOSE_MS = 10_000

/**
 * Debian's Chromium (`chromium`), started for one test and closed after it
 * by `f`: a test fails, never skips, without it. Chromium's own shutdown
 * now and then never ends, and Playwright waits for it; so Chromium runs
 * as a browser server, which is killed when it has not closed in 10 s.
 */
export async function launchChromium(f: AppFixture): Promise<Browser> {
  const executablePath = requireCommand('chromium', 'chromium')
  const server = await chromium.launchServer({ executablePath, args: ARGS })
  f.defer(() => within(server.close(), CLOSE_MS, 'Chromium to close').catch(() => server.kill()))
  return chromium.connect(server.wsEndpoint())
}
