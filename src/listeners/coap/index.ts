/**
 * CoAP listener factory (`protocol: coap`). See docs/coap.md.
 */
import type { ListenerFactory } from '../listener.js';
import { CoapListener } from './listener.js';

export const createCoapListener: ListenerFactory = (context) => new CoapListener(context);
export { CoapListener };
