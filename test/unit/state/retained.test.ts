import { MemoryRetainedStore } from '../../../src/state/embedded/retained.js';
import { retainedStoreContract } from '../../helpers/state-contracts/retained.js';

retainedStoreContract('embedded (memory)', (maxMessages, maxBytes) => new MemoryRetainedStore({ maxMessages, maxBytes }));
