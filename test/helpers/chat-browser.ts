import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import { beforeEach } from 'vitest'
import { parse, stringify } from 'yaml'
import type { TestApp } from './app.js'
import { launchChromium } from './chromium.js'
import type { AppFixture } from './use-app.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const EXAMPLE = join(ROOT, 'examples/chat/switchyard.yaml')

export interface ChatConfig {
  functions: Record<string, { module: string } & Record<string, unknown>>
  rules: unknown[]
  auth: { jwt: { secretFile: string } } & Record<string, unknown>
  acl: unknown[]
}

export function readChatConfig(file: string): ChatConfig {
  return parse(readFileSync(file, 'utf8')) as ChatConfig
}

/** The example's functions (module paths made absolute), rules, auth and ACL, to append to the test app's config. */
export function chatYaml(secretDir: string): string {
  const { functions, rules, auth, acl } = readChatConfig(EXAMPLE)
  const absolute = Object.fromEntries(Object.entries(functions).map(([name, fn]) => [name, { ...fn, module: resolve(dirname(EXAMPLE), fn.module) }]))
  return stringify({ functions: absolute, rules, auth: { ...auth, jwt: { ...auth.jwt, secretFile: join(secretDir, 'jwt-secret') } }, acl })
}

/** A browser tab in the chat, with what went wrong in it: alerts, uncaught errors, console errors (CSP violations among them). */
export interface Tab {
  page: Page
  dialogs: string[]
  errors: string[]
}

export interface OpenOptions {
  viewport?: { width: number; height: number }
  /** Context options such as `locale` and `timezoneId`. */
  context?: BrowserContextOptions
}

/**
 * The chat example on the real app, and a real Chromium to open it in; both
 * started before each test of the file and closed after it. Chromium is
 * Debian's (`chromium`): a test fails, never skips, without it.
 */
export class ChatBrowser {
  #app: TestApp | undefined
  #browser: Browser | undefined

  constructor(private readonly f: AppFixture) {}

  get app(): TestApp {
    if (!this.#app) throw new Error('the chat is not started: useChatBrowser() starts it before each test')
    return this.#app
  }

  async start(): Promise<void> {
    this.#app = await this.f.start(chatYaml(this.f.tempDir()))
    this.#browser = await launchChromium(this.f)
  }

  /** A page at `path` in a fresh browser profile (its own localStorage), before anyone joins. */
  async visit(path: string, options: OpenOptions = {}): Promise<Tab> {
    const context = await this.#browser!.newContext({ viewport: options.viewport ?? { width: 1024, height: 720 }, ...options.context })
    // Within the test's own timeout, so that a wait that fails says what it waited for.
    context.setDefaultTimeout(10_000)
    const page = await context.newPage()
    const tab: Tab = { page, dialogs: [], errors: [] }
    watch(tab)
    await page.goto(this.app.httpUrl + path)
    return tab
  }

  /** Opens the chat at `path` in a fresh browser profile and joins under `name`. */
  async open(name: string, path: string, options: OpenOptions = {}): Promise<Tab> {
    const tab = await this.visit(path, options)
    await tab.page.locator('#welcome').getByLabel('Your name').fill(name)
    await tab.page.getByRole('button', { name: 'Join the chat' }).click()
    await connected(tab.page)
    return tab
  }
}

/** A ChatBrowser started before each test of the file. */
export function useChatBrowser(f: AppFixture): ChatBrowser {
  const chat = new ChatBrowser(f)
  beforeEach(() => chat.start())
  return chat
}

function watch(tab: Tab): void {
  tab.page.on('dialog', (dialog) => {
    tab.dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  tab.page.on('pageerror', (err) => tab.errors.push(err.message))
  tab.page.on('console', (message) => {
    if (message.type() === 'error') tab.errors.push(message.text())
  })
}

export async function connected(page: Page): Promise<void> {
  await page.locator('#status[data-state="online"]').waitFor({ timeout: 10_000 })
}

export async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text)
  await page.getByRole('button', { name: 'Send' }).click()
}

/** The texts of the messages on the page, in order. */
export function texts(page: Page): Promise<string[]> {
  return page.locator('#messages .text').allTextContents()
}

/** The names in the people list. */
export function people(page: Page): Promise<string[]> {
  return page.locator('#people-list .person-name').allTextContents()
}
