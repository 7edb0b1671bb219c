/**
 * Client-id binding (`listeners[].clientId`): a template the client id must
 * match once the client is admitted, e.g. "{principal}" or
 * "{attr.tenant}-*" ('*' stands for any characters). Ties an MQTT client
 * identifier, AMQP container-id or HTTP device id to whoever authenticated,
 * so one device cannot present itself under another's id.
 */
import type { Identity } from '../envelope/index.js';

export type ClientIdBinding = (clientId: string, identity: Identity | undefined) => boolean;

const PLACEHOLDER = /\{(clientId|principal|attr\.[A-Za-z0-9_.-]+)\}/g;

/** Why a binding template is invalid, or undefined. */
export function bindingProblem(template: string): string | undefined {
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (!/^(principal|attr\.[A-Za-z0-9_.-]+)$/.test(m[1]!)) return `unknown placeholder {${m[1]}} (expected {principal} or {attr.NAME})`;
  }
  return undefined;
}

export function compileBinding(template: string): ClientIdBinding {
  return (clientId, identity) => {
    let missing = false;
    const source = template
      .split(PLACEHOLDER)
      .map((part, i) => {
        if (i % 2 === 0) return part.split('*').map(escape).join('.*');
        const v = part === 'principal' ? identity?.principal : part.startsWith('attr.') ? identity?.attributes[part.slice(5)] : undefined;
        if (v === undefined || v.length === 0) missing = true;
        return escapeRegExp(v ?? '');
      })
      .join('');
    return !missing && new RegExp(`^${source}$`, 'su').test(clientId);
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
