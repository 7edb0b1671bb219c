/** A listener's effective rate limits: `guard.limits` with `listeners[].guard.limits` laid over it, key by key. */
import type { ListenerRateLimits, RateLimitsConfig, ScopedRates } from '../config/types.js';
import { type RATE_RESOURCES, RATE_SCOPES } from '../config/sections/guard.js';

export function listenerLimits(global: RateLimitsConfig, overrides: ListenerRateLimits | undefined): RateLimitsConfig {
  if (!overrides) return global;
  const scoped = (resource: (typeof RATE_RESOURCES)[number]): ScopedRates => {
    const o = overrides[resource];
    if (!o) return global[resource];
    return Object.fromEntries(RATE_SCOPES.map((s) => [s, { ...global[resource][s], ...o[s] }])) as unknown as ScopedRates;
  };
  return {
    action: overrides.action ?? global.action,
    mqtt5: overrides.mqtt5 ?? global.mqtt5,
    mqtt5DisconnectReasonCode: overrides.mqtt5DisconnectReasonCode ?? global.mqtt5DisconnectReasonCode,
    messages: scoped('messages'),
    bytes: scoped('bytes'),
    subscriptions: scoped('subscriptions'),
    links: scoped('links'),
  };
}
