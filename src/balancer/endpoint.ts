/**
 * One back-end endpoint: an undici Pool of keep-alive connections and the
 * counters strategies and stats read.
 */
import { Pool as UndiciPool } from 'undici';
import type { StrategyEndpoint } from './strategies/strategy.js';
import type { EndpointConfig } from '../config/types.js';

export class Endpoint implements StrategyEndpoint {
  readonly url: string;
  readonly weight: number;
  readonly client: UndiciPool;
  inflight = 0;
  requests = 0;
  failures = 0;
  healthy = true;
  ejected = false;

  constructor(config: EndpointConfig, connections: number) {
    this.url = config.url.replace(/\/+$/, '');
    this.weight = config.weight;
    this.client = new UndiciPool(this.url, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
    });
  }

  get available(): boolean {
    return this.healthy && !this.ejected;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
