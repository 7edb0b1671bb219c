/**
 * Where a pool's requests wait for a place in flight, shared fairly between
 * the sources that send them: round robin between source addresses and,
 * within one address, between client ids. Every request costs one turn, so
 * this is deficit round robin with a quantum of one message: a source with
 * one message waiting is served after at most one message of every other
 * source waiting, however many of its own the busiest source has queued.
 *
 * When the queue is full, the newest request of the longest queue makes
 * room (longest-queue drop): a flood fills its own queue, not the share of
 * a device that sends a message now and then.
 */

import type { RequestSource } from './types.js';

/** A first-in first-out list that does not shift its array on every take. */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T {
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  pop(): T {
    return this.items.pop()!;
  }

  *drain(): Generator<T> {
    while (this.size > 0) yield this.shift();
  }
}

/** The clients of one address with something waiting, in the order they are served (a Map keeps insertion order). */
interface AddressQueue<T> {
  readonly clients: Map<string, Fifo<T>>;
  size: number;
}

export class FairQueue<T> {
  /** Addresses with something waiting, in serving order. */
  private readonly addresses = new Map<string, AddressQueue<T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(key: RequestSource, item: T): void {
    let a = this.addresses.get(key.remoteAddress);
    if (a === undefined) this.addresses.set(key.remoteAddress, (a = { clients: new Map(), size: 0 }));
    let q = a.clients.get(key.clientId);
    if (q === undefined) a.clients.set(key.clientId, (q = new Fifo()));
    q.push(item);
    a.size++;
    this.count++;
  }

  /** The next request in turn, or undefined when nothing waits. */
  shift(): T | undefined {
    const first = this.addresses.entries().next();
    if (first.done === true) return undefined;
    const [address, a] = first.value;
    const [client, q] = a.clients.entries().next().value!;
    const item = q.shift();
    this.count--;
    a.size--;
    // Served: to the back of the line, or out of it when nothing more waits.
    a.clients.delete(client);
    if (q.size > 0) a.clients.set(client, q);
    this.addresses.delete(address);
    if (a.size > 0) this.addresses.set(address, a);
    return item;
  }

  /**
   * Makes room for a request from `key` in a full queue: takes out and
   * returns the newest request of the longest queue (by address, then by
   * client within it), or undefined when `key`'s own queue is that longest
   * one, in which case the newcomer is the one to refuse.
   */
  evictFor(key: RequestSource): T | undefined {
    const own = this.addresses.get(key.remoteAddress);
    let longest: AddressQueue<T> | undefined;
    let longestAddress = '';
    for (const [address, a] of this.addresses) {
      if (longest === undefined || a.size > longest.size) {
        longest = a;
        longestAddress = address;
      }
    }
    if (longest === undefined) return undefined;
    if (own !== undefined && own.size >= longest.size) {
      longest = own;
      longestAddress = key.remoteAddress;
    }
    let longestClient: string | undefined;
    let q: Fifo<T> | undefined;
    for (const [client, c] of longest.clients) {
      if (q === undefined || c.size > q.size) {
        q = c;
        longestClient = client;
      }
    }
    if (longestAddress === key.remoteAddress) {
      const mine = longest.clients.get(key.clientId);
      if (mine !== undefined && mine.size >= q!.size) return undefined;
    }
    const item = q!.pop();
    this.count--;
    longest.size--;
    if (q!.size === 0) longest.clients.delete(longestClient!);
    if (longest.size === 0) this.addresses.delete(longestAddress);
    return item;
  }

  /** Takes out everything waiting, in no particular order. */
  *drain(): Generator<T> {
    for (const a of this.addresses.values()) for (const q of a.clients.values()) yield* q.drain();
    this.addresses.clear();
    this.count = 0;
  }
}
