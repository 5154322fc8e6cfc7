import { addressOf, type TargetKind } from './target.js'

export type RouteTarget = { kind: 'route'; name: string }

/** A named route: resolved to its targets when the delivery is made (see the dispatcher), never delivered to as such. */
export const routeTarget: TargetKind<RouteTarget> = {
  kind: 'route',
  format: (target) => `route:${target.name}`,
  parse(address) {
    const name = addressOf('route', address)
    return name === undefined ? undefined : { kind: 'route', name }
  },
}
