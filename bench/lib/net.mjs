// @ts-check
/** Small socket helpers the benchmark processes share. */

/**
 * The port a listening server (net, http, dgram) is bound to.
 * @param {{ address(): string | import('node:net').AddressInfo | null }} server
 * @returns {number}
 */
export function portOf(server) {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not listening on a TCP or UDP port');
  return address.port;
}
