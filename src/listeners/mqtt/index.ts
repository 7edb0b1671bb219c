import type { ListenerFactory } from '../listener.js';
import { ThinggateError } from '../../errors.js';

export const createMqttListener: ListenerFactory = () => {
  throw new ThinggateError('TG_ERR_NOT_IMPLEMENTED', 'mqtt listener');
};
