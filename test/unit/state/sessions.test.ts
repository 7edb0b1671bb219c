import { MemorySessionStore } from '../../../src/state/embedded/sessions.js';
import { sessionStoreContract } from '../../helpers/state-contracts/sessions.js';

sessionStoreContract('embedded (memory)', () => new MemorySessionStore());
