/**
 * HTTP device-ingress listener factory (`protocol: http`). See docs/http.md.
 */
import type { ListenerFactory } from '../listener.js';
import { HttpListener } from './listener.js';

export const createHttpListener: ListenerFactory = (context) => new HttpListener(context);
export { HttpListener };
