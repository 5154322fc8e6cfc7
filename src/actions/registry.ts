import type { ActionKind } from './action.js'
import { http } from './http.js'
import { invoke } from './invoke.js'
import { republish } from './republish.js'
import { store } from './store.js'

/** Every kind of action a rule can have, by the key that names it in the config. */
export const actionKinds = {
  republish,
  store,
  http,
  invoke,
} satisfies Record<string, ActionKind<any>> // any: each kind has its own config type

export type ActionKindName = keyof typeof actionKinds
