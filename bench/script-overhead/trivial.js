/// <reference path="../../types/thinggate.d.ts" />
// The trivial routing script of the bench: the same request the static route makes.
export function onMessage(msg) {
  return route('p', { path: '/messages/' + msg.address });
}
