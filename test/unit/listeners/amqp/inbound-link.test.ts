import { afterEach, describe, expect, it, vi } from 'vitest';
import { InboundLink } from '../../../../src/listeners/amqp/inbound-link.js';
import type { RheaIncomingDelivery, RheaReceiver } from '../../../../src/listeners/amqp/rhea-types.js';

/** The receiver state InboundLink reads and the credit it grants, as rhea keeps them. */
function receiver(target: string | null = 'telemetry/a'): RheaReceiver & { grants: number[] } {
  const r = {
    credit: 0,
    grants: [] as number[],
    remote: { attach: { target: { address: target } } },
    add_credit(n: number) {
      r.credit += n;
      r.grants.push(n);
    },
  };
  return r as unknown as RheaReceiver & { grants: number[] };
}

function delivery(): RheaIncomingDelivery & { states: string[] } {
  const states: string[] = [];
  return {
    remote_settled: false,
    settled: false,
    states,
    accept: () => states.push('accepted'),
    reject: (e: { condition: string }) => states.push(`rejected:${e.condition}`),
    release: (p?: { delivery_failed?: boolean }) => states.push(p?.delivery_failed ? 'modified' : 'released'),
    update: () => undefined,
  } as unknown as RheaIncomingDelivery & { states: string[] };
}

/** One transfer arriving: rhea decrements the credit, the link counts it as in flight. */
function arrive(link: InboundLink, r: RheaReceiver): boolean {
  r.credit--;
  const ok = link.onTransfer();
  link.reserveInbound();
  return ok;
}

afterEach(() => vi.useRealTimers());

describe('InboundLink credit', () => {
  const opts = { maxInflight: 8, unavailableOutcome: 'released' as const, unavailableBackoffMs: 1000 };

  it('grants maxInflight at first and never more than maxInflight minus what is in flight', () => {
    const r = receiver();
    const link = new InboundLink(r, opts);
    link.topUp(false);
    expect(r.grants).toEqual([8]);
    for (let i = 0; i < 8; i++) expect(arrive(link, r)).toBe(true);
    link.topUp(false);
    expect(r.credit).toBe(0);
    expect(r.grants).toEqual([8]);
    // One outcome completes: the device has no credit left, so one credit goes back at once.
    link.releaseInbound();
    link.topUp(false);
    expect(r.grants).toEqual([8, 1]);
    expect(r.credit + link.inflight).toBeLessThanOrEqual(8);
  });

  it('batches top-ups while the device still has credit', () => {
    const r = receiver();
    const link = new InboundLink(r, { ...opts, maxInflight: 64 });
    link.topUp(false);
    for (let i = 0; i < 10; i++) arrive(link, r);
    for (let i = 0; i < 7; i++) link.releaseInbound();
    link.topUp(false);
    expect(r.grants).toEqual([64]); // deficit 7 < batch 8 with 54 credit left
    link.releaseInbound();
    link.topUp(false);
    expect(r.grants).toEqual([64, 8]);
  });

  it('grants nothing while paused (admission pending, draining)', () => {
    const r = receiver();
    const link = new InboundLink(r, opts);
    link.topUp(true);
    expect(r.grants).toEqual([]);
  });

  it('flags a transfer beyond the credit granted', () => {
    const r = receiver();
    const link = new InboundLink(r, opts);
    link.topUp(false);
    for (let i = 0; i < 8; i++) arrive(link, r);
    expect(arrive(link, r)).toBe(false);
  });

  it('holds one credit back for the back-off after an unavailable outcome', () => {
    vi.useFakeTimers();
    const r = receiver();
    const link = new InboundLink(r, opts);
    link.topUp(false);
    for (let i = 0; i < 8; i++) arrive(link, r);
    const d = delivery();
    link.releaseInbound();
    let after = 0;
    link.settle(d, { kind: 'unavailable', status: 503, code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: 'down' }, () => {
      after++;
      link.topUp(false);
    });
    expect(d.states).toEqual(['released']);
    link.topUp(false);
    expect(r.grants).toEqual([8]);
    vi.advanceTimersByTime(1000);
    expect(after).toBe(1);
    expect(r.grants).toEqual([8, 1]);
  });

  it('settles accepted and rejected outcomes, and modified when configured', () => {
    const link = new InboundLink(receiver(), { ...opts, unavailableOutcome: 'modified' });
    const d = delivery();
    link.settle(d, { kind: 'accepted', status: 200 }, () => undefined);
    link.settle(d, { kind: 'rejected', status: 413, code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: 'too big' }, () => undefined);
    link.settle(d, { kind: 'unavailable', status: 503, code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: 'down', retryAfterMs: 0 }, () => undefined);
    expect(d.states).toEqual(['accepted', 'rejected:amqp:resource-limit-exceeded', 'modified']);
  });

  it("tells the listener's drain count as deliveries enter and leave the pipeline", () => {
    const deltas: number[] = [];
    const link = new InboundLink(receiver(), { ...opts, onInflight: (d) => deltas.push(d) });
    link.reserveInbound();
    link.reserveInbound();
    expect(link.inflight).toBe(2);
    link.releaseInbound();
    expect(link.inflight).toBe(1);
    expect(deltas).toEqual([1, 1, -1]);
  });

  it('reports an oversize detach once', () => {
    const link = new InboundLink(receiver(), opts);
    expect(link.markOversize()).toBe(true);
    expect(link.markOversize()).toBe(false);
  });

  it('uses the target address, or none for the anonymous terminus', () => {
    expect(new InboundLink(receiver('a/b'), opts).address).toBe('a/b');
    expect(new InboundLink(receiver(null), opts).address).toBeUndefined();
  });
});
