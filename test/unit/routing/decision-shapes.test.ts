/**
 * The decision shapes exist on both sides of the isolate: types/thinggate.d.ts
 * (what script authors are told) and src/routing/decision.ts (what the host
 * acts on, after scripting/validate.ts). They must agree: the same actions,
 * the same fields, the same field types (bodies and payloads aside, which
 * the host receives as bytes). The compile-time half runs in
 * `npm run typecheck`; the run-time half sends a decision with every field
 * the .d.ts names through the host's validator and checks that every field
 * survives.
 */
import { describe, expect, it } from 'vitest';
import type * as Host from '../../../src/routing/decision.js';
import { validateOne } from '../../../src/scripting/validate.js';
import type * as Script from '../../../types/thinggate.js';

/** `true` when A and B have exactly the same keys. */
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
/** `true` when every field of A but the byte-carrying ones has the same type in B. */
type SameFields<A, B, Bytes extends keyof A = never> = {
  [K in Exclude<keyof A, Bytes>]: K extends keyof B ? ([A[K]] extends [B[K]] ? ([B[K]] extends [A[K]] ? true : false) : false) : false;
}[Exclude<keyof A, Bytes>] extends true
  ? true
  : false;
type Assert<T extends true> = T;

// Checked when the type is formed; never used at run time.
type _Checks = [
  Assert<SameKeys<Script.RouteDecision, Host.RouteDecision>>,
  Assert<SameKeys<Script.ReplyDecision, Host.ReplyDecision>>,
  Assert<SameKeys<Script.DropDecision, Host.DropDecision>>,
  Assert<SameKeys<Script.RejectDecision, Host.RejectDecision>>,
  Assert<SameKeys<Script.PublishDecision, Host.PublishDecision>>,
  Assert<SameFields<Script.RouteDecision, Host.RouteDecision, 'body'>>,
  Assert<SameFields<Script.ReplyDecision, Host.ReplyDecision, 'payload'>>,
  Assert<SameFields<Script.DropDecision, Host.DropDecision>>,
  Assert<SameFields<Script.RejectDecision, Host.RejectDecision>>,
  Assert<SameFields<Script.PublishDecision, Host.PublishDecision, 'payload'>>,
  Assert<SameKeys<Script.CommandDecision, Host.CommandDecision>>,
  Assert<SameFields<Script.CommandDecision, Host.CommandDecision, 'payload'>>,
  Assert<
    [Script.Decision['action']] extends [Host.Decision['action']] ? ([Host.Decision['action']] extends [Script.Decision['action']] ? true : false) : false
  >,
];

/** One decision per action with every field the .d.ts names (`Required`: a field added there must be added here). */
const FULL: { [A in Script.Decision['action']]: Required<Extract<Script.Decision, { action: A }>> } = {
  route: { action: 'route', pool: 'p', method: 'PUT', path: '/x', headers: { 'x-a': '1' }, body: 'b', key: 'k', reply: true },
  reply: { action: 'reply', payload: 'p', contentType: 'text/plain', code: 201 },
  drop: { action: 'drop', reason: 'r' },
  reject: { action: 'reject', reason: 'r', code: 403 },
  publish: { action: 'publish', topic: 't/1', payload: 'p', qos: 1, retain: true, headers: { 'x-a': '1' }, contentType: 'text/plain' },
  command: { action: 'command', clientId: 'd1', payload: 'p', address: 'cmd/d1', qos: 1, ttlMs: 1000, contentType: 'text/plain' },
};

describe('decision shapes: types/thinggate.d.ts and the host agree', () => {
  it.each(Object.values(FULL))('the host keeps every field of $action', (decision) => {
    const validated = validateOne(decision);
    expect(Object.keys(validated).sort()).toEqual(Object.keys(decision).sort());
  });
});
