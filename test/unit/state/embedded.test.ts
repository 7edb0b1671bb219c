/** The state contracts on the embedded backend (one process; a shared hub stands for several nodes). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedHub } from '../../../src/state/index.js';
import { EmbeddedPresence } from '../../../src/state/embedded/presence.js';
import { EmbeddedBus } from '../../../src/state/embedded/bus.js';
import { EmbeddedCounters } from '../../../src/state/embedded/counters.js';
import { FileBanStore } from '../../../src/state/embedded/bans.js';
import { presenceContract } from '../../helpers/state-contracts/presence.js';
import { busContract } from '../../helpers/state-contracts/bus.js';
import { countersContract } from '../../helpers/state-contracts/counters.js';
import { banStoreContract } from '../../helpers/state-contracts/bans.js';
import { scriptStateContract } from '../../helpers/state-contracts/script-state.js';
import { EmbeddedScriptState } from '../../../src/state/embedded/script-state.js';

const TTL = 300;

presenceContract('embedded', async () => {
  const hub = new EmbeddedHub();
  return { nodeTtlMs: TTL, node: (id) => new EmbeddedPresence({ nodeId: id, nodeTtlMs: TTL, hub }), close: async () => {} };
});

busContract('embedded', async () => {
  const hub = new EmbeddedHub();
  return { node: (id) => new EmbeddedBus(id, hub), close: async () => {} };
});

countersContract('embedded', async () => {
  const hub = new EmbeddedHub();
  return { node: () => new EmbeddedCounters(hub), close: async () => {} };
});

banStoreContract('embedded file (.thinggate/bans.json)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-bans-'));
  return { notifies: false, open: () => new FileBanStore(dir), close: async () => rmSync(dir, { recursive: true, force: true }) };
});

scriptStateContract('embedded', async () => {
  const hub = new EmbeddedHub();
  return { node: (id) => new EmbeddedScriptState(id, hub), close: async () => {} };
});
