import { address, type TargetKind } from './target.js'

export type RouteTarget = { kind: 'route'; name: string }

/** A named route: resolved to its targets when the delivery is made (see the dispatcher), never delivered to as such. */
export const routeTarget: TargetKind<RouteTarget> = address<RouteTarget, 'name'>('route', 'name')
