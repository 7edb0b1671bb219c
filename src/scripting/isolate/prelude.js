// @ts-check
/**
 * The code that runs inside every script isolate before the script itself.
 * It defines the API globals (`route`, `reply`, `drop`, `reject`, `publish`,
 * `accept`, `TextEncoder`, `TextDecoder`), builds the read-only `msg` views,
 * and runs batches of messages through the script's `onMessage`.
 *
 * This file is a classic script, not a module: the host (../prelude.ts) reads
 * its text and runs it with isolated-vm's compileScriptSync; it is never
 * imported. The build copies it beside the compiled host code.
 *
 * Why here and not on the host: every value crosses the isolate boundary by
 * copy, so the host never hands the script a reference it could walk. The
 * prelude captures the intrinsics it relies on before the script runs, so a
 * script that tampers with prototypes only breaks itself.
 *
 * The completion value of this script is an object of functions the host
 * keeps References to; nothing of it stays reachable from `globalThis`.
 *
 * Wire format of a batch (arrays, cheaper to copy than objects; the payloads
 * of a batch travel together, beside this JSON text):
 *   [[source, …], [message, …]]
 *   source:  [protocol, listener, clientId, identity|null, tls|null], shared by the
 *            messages of one connection
 *   message: [id, source index, address, method, headers, contentType|null,
 *            delivery, receivedAt, payload length, correlationId|null,
 *            replyTo|null, decoded|null]
 * onResponse gets one [source, message] pair.
 * Result of one message: [0, decisions[]] | [1, message, stack] (threw) |
 *   [2, message] (invalid decision). A batch's results travel as
 *   [[distinct result, …], [index, …]]: most messages of a batch get the same
 *   decisions, so each distinct result is written and parsed once.
 *
 * The types below check this file against the host's side of the boundary
 * (../wire.ts, ../version.ts) and what script authors are told
 * (types/thinggate.d.ts); none of them exists at run time.
 *
 * @typedef {import('../../../types/thinggate.js').Decision} Decision
 * @typedef {import('../../../types/thinggate.js').AcceptDecision} AcceptDecision
 * @typedef {import('../../../types/thinggate.js').Identity} Identity
 * @typedef {import('../../../types/thinggate.js').Tls} Tls
 * @typedef {import('../../../types/thinggate.js').Client} Client
 * @typedef {import('../../../types/thinggate.js').Message} ScriptMessage
 * @typedef {import('../../../types/thinggate.js').Context} Context
 * @typedef {import('../../../types/thinggate.js').OnMessage} OnMessage
 * @typedef {import('../../../types/thinggate.js').OnResponse} OnResponse
 * @typedef {import('../../../types/thinggate.js').OnConnect} OnConnect
 * @typedef {import('../wire.js').WireSource} WireSource
 * @typedef {import('../wire.js').WireMessage} WireMessage
 * @typedef {import('../wire.js').WireResponse} WireResponse
 * @typedef {import('../version.js').HostHooks} HostHooks
 * @typedef {import('../version.js').RawResult} RawResult
 */
/**
 * A source as the messages of a batch share it: identity and TLS facts frozen, absent ones undefined.
 * @typedef {[protocol: WireSource[0], listener: string, clientId: string, identity: Identity | undefined, tls: Tls | undefined]} Source
 */
/**
 * A batch's payloads: a Latin-1 string (one char per byte) or bytes.
 * @typedef {string | Uint8Array} Payloads
 */
/**
 * A decision as it crosses to the host: primitives, string maps, strings, JSON text or `{$bin}` references.
 * @typedef {{ action: string, [field: string]: unknown }} Portable
 */
/**
 * The globals this prelude takes from the host, removes, or defines.
 * @typedef {object} IsolateGlobal
 * @property {HostHooks['log']} [__tg_log]
 * @property {HostHooks['state']} [__tg_state]
 * @property {unknown} [SharedArrayBuffer]
 * @property {unknown} [Atomics]
 * @property {unknown} [WebAssembly]
 * @property {unknown} [TextDecoder]
 * @property {unknown} [TextEncoder]
 * @property {typeof route} [route]
 * @property {typeof reply} [reply]
 * @property {typeof drop} [drop]
 * @property {typeof reject} [reject]
 * @property {typeof publish} [publish]
 * @property {typeof command} [command]
 * @property {typeof accept} [accept]
 */
/**
 * @template T
 * @typedef {{ -readonly [K in keyof T]: T[K] }} Mutable
 */
(() => {
  // biome-ignore lint/suspicious/noRedundantUseStrict: the isolate runs this file as a classic script, where strict mode is not the default.
  'use strict';
  const G = /** @type {IsolateGlobal} */ (globalThis);
  const hostLog = /** @type {HostHooks['log']} */ (G.__tg_log);
  const hostState = /** @type {HostHooks['state']} */ (G.__tg_state);
  delete G.__tg_log;
  delete G.__tg_state;
  // Nothing a routing script needs, and each could outlive or escape a call's limits.
  delete G.SharedArrayBuffer;
  delete G.Atomics;
  delete G.WebAssembly;

  const freeze = Object.freeze;
  const isArray = Array.isArray;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const fromCharCode = String.fromCharCode;
  const U8 = Uint8Array;
  const AB = ArrayBuffer;
  const isView = ArrayBuffer.isView;
  const getPrototypeOf = Object.getPrototypeOf;
  const ObjectProto = Object.prototype;
  const keysOf = Object.keys;
  const create = Object.create;
  const hasOwn = Object.prototype.hasOwnProperty;
  const call = Function.prototype.call;
  const bind = call.bind(Function.prototype.bind);
  // Prototype methods as plain functions of their receiver, immune to a script replacing the method.
  /** @type {(o: object, key: string) => boolean} */
  const hasOwnCall = bind(call, hasOwn);
  const nowMs = Date.now;
  const ErrorCtor = Error;
  const PromiseCtor = Promise;
  const Str = String;
  const apply = Reflect.apply;
  /** @type {(s: string, start: number, end?: number) => string} */
  const strSlice = bind(call, String.prototype.slice);
  /** @type {(b: ArrayBufferLike, start: number, end?: number) => ArrayBuffer} */
  const abSlice = bind(call, ArrayBuffer.prototype.slice);
  /** @type {(b: Uint8Array, start: number, end?: number) => Uint8Array} */
  const u8Slice = bind(call, Uint8Array.prototype.slice);
  /** @type {(s: string, i: number) => number} */
  const charCodeAt = bind(call, String.prototype.charCodeAt);
  /**
   * Appends without Array.prototype.push, which a script may have replaced.
   * @template T
   * @param {T[]} a
   * @param {T} v
   */
  function put(a, v) {
    a[a.length] = v;
  }

  /**
   * Thrown for a decision the host would refuse; reported as result `[2, message]`.
   * @constructor
   * @param {string} message
   */
  function InvalidDecision(message) {
    this.message = message;
  }
  /**
   * A script's value quoted in an error text: never more than a line of it.
   * @param {unknown} v
   */
  function clip(v) {
    return stringify(strSlice(Str(v), 0, 64));
  }

  // What the decisions of one message may carry (scripts.maxDecisionBytes) and
  // what one call's results may (see batch): set by bind. A string counts its
  // length, bytes their byteLength, a JSON value its JSON text; each is counted
  // before it is copied, so an oversized decision is refused before it costs
  // the isolate (or the host) a copy.
  let maxBytes = 1048576;
  let callBytes = 4194304;
  let left = 0;
  /**
   * @param {number} n
   * @param {string} field
   */
  function charge(n, field) {
    left -= n;
    if (left < 0) throw new InvalidDecision(field + ': the decisions of one message carry more than ' + maxBytes + ' bytes (scripts.maxDecisionBytes)');
  }

  /** @param {Uint8Array} b */
  function utf8Decode(b) {
    let out = '';
    /** @type {number[]} */
    let chunk = [];
    const n = b.length;
    for (let i = 0; i < n; ) {
      const c = b[i];
      let cp = 0xfffd;
      let len = 1;
      if (c < 0x80) cp = c;
      else if (c >= 0xc2 && c < 0xe0 && i + 1 < n && (b[i + 1] & 0xc0) === 0x80) {
        cp = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
        len = 2;
      } else if (c >= 0xe0 && c < 0xf0 && i + 2 < n && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80) {
        const v = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
        if (v >= 0x800 && (v < 0xd800 || v > 0xdfff)) {
          cp = v;
          len = 3;
        }
      } else if (c >= 0xf0 && c < 0xf5 && i + 3 < n && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80 && (b[i + 3] & 0xc0) === 0x80) {
        const v = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f);
        if (v >= 0x10000 && v <= 0x10ffff) {
          cp = v;
          len = 4;
        }
      }
      if (cp > 0xffff) {
        cp -= 0x10000;
        put(chunk, 0xd800 + (cp >> 10));
        put(chunk, 0xdc00 + (cp & 0x3ff));
      } else put(chunk, cp);
      if (chunk.length > 4096) {
        out += apply(fromCharCode, null, chunk);
        chunk = [];
      }
      i += len;
    }
    return out + apply(fromCharCode, null, chunk);
  }

  /** @param {unknown} value */
  function utf8Encode(value) {
    const s = Str(value);
    /** @type {number[]} */
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        } else c = 0xfffd;
      } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c < 0x80) put(out, c);
      else if (c < 0x800) {
        put(out, 0xc0 | (c >> 6));
        put(out, 0x80 | (c & 0x3f));
      } else if (c < 0x10000) {
        put(out, 0xe0 | (c >> 12));
        put(out, 0x80 | ((c >> 6) & 0x3f));
        put(out, 0x80 | (c & 0x3f));
      } else {
        put(out, 0xf0 | (c >> 18));
        put(out, 0x80 | ((c >> 12) & 0x3f));
        put(out, 0x80 | ((c >> 6) & 0x3f));
        put(out, 0x80 | (c & 0x3f));
      }
    }
    return new U8(out);
  }

  class TextDecoder {
    get encoding() {
      return 'utf-8';
    }
    /** @param {ArrayBuffer | ArrayBufferView} [input] */
    decode(input) {
      if (input === undefined) return '';
      if (input instanceof AB) return utf8Decode(new U8(input));
      if (isView(input)) return utf8Decode(new U8(input.buffer, input.byteOffset, input.byteLength));
      throw new TypeError('TextDecoder.decode expects bytes');
    }
  }
  class TextEncoder {
    get encoding() {
      return 'utf-8';
    }
    /** @param {unknown} [s] */
    encode(s) {
      return utf8Encode(s === undefined ? '' : s);
    }
  }
  G.TextDecoder = TextDecoder;
  G.TextEncoder = TextEncoder;

  /** @type {readonly (keyof import('../../../types/thinggate.js').RouteDecision)[]} */
  const ROUTE_OPTS = ['method', 'path', 'headers', 'body', 'key', 'reply'];
  /** @type {readonly (keyof import('../../../types/thinggate.js').PublishDecision)[]} */
  const PUBLISH_OPTS = ['qos', 'retain', 'headers', 'contentType'];
  /** @type {readonly (keyof import('../../../types/thinggate.js').CommandDecision)[]} */
  const COMMAND_OPTS = ['address', 'qos', 'ttlMs', 'contentType'];
  /**
   * @template {object} T
   * @param {Mutable<T>} d
   * @param {Partial<T>} o
   * @param {readonly (keyof T)[]} names
   */
  function copyOpts(d, o, names) {
    for (let i = 0; i < names.length; i++) {
      const k = names[i];
      if (o[k] !== undefined) d[k] = o[k];
    }
  }

  // Decision helpers: each returns a plain object a script may also build by hand.
  G.route = function route(pool, request) {
    /** @type {Mutable<import('../../../types/thinggate.js').RouteDecision>} */
    const d = { action: 'route' };
    if (pool !== undefined && pool !== null) d.pool = pool;
    if (request) copyOpts(d, request, ROUTE_OPTS);
    return d;
  };
  G.reply = function reply(payload, options) {
    /** @type {Mutable<import('../../../types/thinggate.js').ReplyDecision>} */
    const d = { action: 'reply', payload: payload };
    if (options && options.contentType !== undefined) d.contentType = options.contentType;
    if (options && options.code !== undefined) d.code = options.code;
    return d;
  };
  G.drop = function drop(reason) {
    return reason === undefined ? { action: 'drop' } : { action: 'drop', reason: reason };
  };
  G.reject = function reject(reason, code) {
    return code === undefined ? { action: 'reject', reason: reason } : { action: 'reject', reason: reason, code: code };
  };
  G.publish = function publish(topic, payload, options) {
    /** @type {Mutable<import('../../../types/thinggate.js').PublishDecision>} */
    const d = { action: 'publish', topic: topic, payload: payload };
    if (options) copyOpts(d, options, PUBLISH_OPTS);
    return d;
  };
  G.command = function command(clientId, payload, options) {
    /** @type {Mutable<import('../../../types/thinggate.js').CommandDecision>} */
    const d = { action: 'command', clientId: clientId, payload: payload };
    if (options) copyOpts(d, options, COMMAND_OPTS);
    return d;
  };
  G.accept = function accept(options) {
    /** @type {Mutable<AcceptDecision>} */
    const d = { action: 'accept' };
    if (options && options.principal !== undefined) d.principal = options.principal;
    if (options && options.attributes !== undefined) d.attributes = options.attributes;
    return d;
  };

  /** @param {ArrayLike<unknown>} args */
  function format(args) {
    let s = '';
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      let part;
      if (typeof a === 'string') part = a;
      else {
        try {
          part = stringify(a);
        } catch {
          part = Str(a);
        }
        if (part === undefined) part = Str(a);
      }
      s += (i ? ' ' : '') + part;
      if (s.length > 2048) return strSlice(s, 0, 2048) + '…';
    }
    return s;
  }
  /**
   * @param {string} level
   * @returns {(...args: unknown[]) => void}
   */
  function logAt(level) {
    return (...args) => {
      hostLog(level, format(args));
    };
  }

  let clock = 0;
  /** @type {Context['state']} */
  const state = freeze({
    /** @param {string} key */
    get(key) {
      const v = hostState('get', Str(key));
      return v === undefined ? undefined : parse(/** @type {string} */ (v));
    },
    /** @param {string} key */
    has(key) {
      return hostState('has', Str(key)) === true;
    },
    /**
     * @param {string} key
     * @param {unknown} value
     */
    set(key, value) {
      const json = stringify(value);
      if (json === undefined) throw new TypeError('state.set: value must be JSON-serialisable');
      const r = hostState('set', Str(key), json);
      if (typeof r === 'string') throw new RangeError(r);
    },
    /** @param {string} key */
    delete(key) {
      return hostState('delete', Str(key)) === true;
    },
    get size() {
      return /** @type {number} */ (hostState('size'));
    },
  });
  /** @type {Context} */
  const ctx = freeze({
    log: freeze({ info: logAt('info'), warn: logAt('warn'), error: logAt('error') }),
    state: state,
    now: function now() {
      return clock;
    },
  });

  // A message's payload is bytes [from, to) of 'src' (the batch's payloads, as
  // a Latin-1 string or as bytes), copied out the first time the script reads
  // it: every Uint8Array made in an isolate costs about a microsecond, more than
  // a routing script that looks only at the address spends on the message.
  /** @implements {ScriptMessage} */
  class Message {
    /** @type {Payloads | undefined} */
    #src;
    /** @type {number} */
    #from;
    /** @type {number} */
    #to;
    /** @type {Uint8Array | undefined} */
    #payload;
    /**
     * @param {WireMessage} w
     * @param {Source} s the message's source as sourceOf made it (identity frozen already)
     * @param {Payloads} src
     * @param {number} from
     * @param {number} to
     */
    constructor(w, s, src, from, to) {
      this.#src = src;
      this.#from = from;
      this.#to = to;
      /** @type {string | undefined} */
      let text;
      const m = this;
      this.id = w[0];
      this.protocol = s[0];
      this.listener = s[1];
      this.clientId = s[2];
      this.identity = s[3];
      if (s[4] !== undefined) this.tls = s[4];
      this.address = w[2];
      this.method = w[3];
      this.headers = freeze(w[4]);
      this.contentType = w[5] === null ? undefined : w[5];
      this.delivery = w[6];
      this.receivedAt = w[7];
      this.correlationId = w[9] === null ? undefined : w[9];
      this.replyTo = w[10] === null ? undefined : w[10];
      /** @returns {string} */
      this.text = function text_() {
        return text === undefined ? (text = m.#decode()) : text;
      };
      /** @returns {any} */
      this.json = function json() {
        return parse(m.text());
      };
      // The route's codec decoded the payload on the host (w[11]); JSON and text need none, so they decode here.
      const dec = w[11];
      /** @returns {any} */
      this.decode = function decode() {
        if (dec === null || dec === undefined) {
          const ct = m.contentType === undefined ? '' : m.contentType.toLowerCase();
          if (ct === '' || ct.startsWith('application/json') || ct.endsWith('+json')) return m.json();
          if (ct.startsWith('text/')) return m.text();
          throw new Error('no codec decodes content type ' + ct + " (set the route's decode)");
        }
        if (dec[0] === 1) throw new Error(dec[1]);
        return dec[1];
      };
      freeze(this);
    }
    get payload() {
      if (this.#payload === undefined) {
        const src = /** @type {Payloads} */ (this.#src);
        this.#payload =
          typeof src === 'string'
            ? fromLatin1(src, this.#from, this.#to)
            : this.#from === 0 && this.#to === src.length
              ? src
              : u8Slice(src, this.#from, this.#to);
        this.#src = undefined;
      }
      return this.#payload;
    }
    // An ASCII payload still in the batch's Latin-1 string is its own text: no bytes need making.
    #decode() {
      const src = this.#src;
      if (typeof src === 'string') {
        const s = strSlice(src, this.#from, this.#to);
        if (isAscii(s)) return s;
      }
      return utf8Decode(this.payload);
    }
  }
  /** @param {string} s */
  function isAscii(s) {
    for (let i = 0; i < s.length; i++) if (charCodeAt(s, i) > 0x7f) return false;
    return true;
  }
  /**
   * A source as messages share it: its identity and TLS facts frozen once (undefined when there are none).
   * @param {WireSource} s
   * @returns {Source}
   */
  function sourceOf(s) {
    return [s[0], s[1], s[2], s[3] === null ? undefined : deepFreeze(s[3]), s[4] === null || s[4] === undefined ? undefined : deepFreeze(s[4])];
  }
  /**
   * @template T
   * @param {T} o
   * @returns {T}
   */
  function deepFreeze(o) {
    if (o !== null && typeof o === 'object') {
      freeze(o);
      const ks = keysOf(o);
      for (let i = 0; i < ks.length; i++) deepFreeze(/** @type {Record<string, unknown>} */ (o)[ks[i]]);
    }
    return o;
  }

  /**
   * @param {unknown} v
   * @returns {v is Record<string, any>}
   */
  function isPlain(v) {
    if (v === null || typeof v !== 'object') return false;
    const p = getPrototypeOf(v);
    return p === ObjectProto || p === null;
  }

  // Bytes of the current call's results travel beside their JSON text; a
  // result refers to them as {"$bin": index}.
  /** @type {Uint8Array[]} */
  let bins = [];
  let binBytes = 0;
  /** @param {Uint8Array} u8 */
  function bin(u8) {
    const i = bins.length;
    bins[i] = u8;
    binBytes += u8.byteLength;
    return { $bin: i };
  }

  /**
   * Copies a body or payload into something that crosses the boundary by copy:
   * bytes go to 'bins', strings stay strings, other values become JSON text.
   * @param {unknown} v
   * @param {Portable} d the decision it goes into (marked `json` for JSON text)
   * @param {string} field
   */
  function portable(v, d, field) {
    if (v === undefined || v === null) return v;
    if (typeof v === 'string') {
      charge(v.length, field);
      return v;
    }
    if (v instanceof U8) {
      charge(v.byteLength, field);
      return bin(u8Slice(v, 0));
    }
    if (v instanceof AB) {
      charge(v.byteLength, field);
      return bin(new U8(abSlice(v, 0)));
    }
    if (isView(v)) {
      charge(v.byteLength, field);
      return bin(new U8(abSlice(v.buffer, v.byteOffset, v.byteOffset + v.byteLength)));
    }
    let json;
    try {
      json = stringify(v);
    } catch {
      throw new InvalidDecision(field + ' is not JSON-serialisable');
    }
    if (json === undefined) throw new InvalidDecision(field + ' is not JSON-serialisable');
    charge(json.length, field);
    d.json = true;
    return json;
  }

  /**
   * @param {unknown} v
   * @param {string} what
   */
  function stringMap(v, what) {
    if (v === undefined) return undefined;
    if (!isPlain(v)) throw new InvalidDecision(what + ' must be an object of strings');
    /** @type {Record<string, string>} */
    const out = {};
    const ks = keysOf(v);
    for (let i = 0; i < ks.length; i++) {
      const k = ks[i];
      const x = v[k];
      if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') throw new InvalidDecision(what + '.' + clip(k) + ' must be a string');
      const sx = Str(x);
      charge(k.length + sx.length, what);
      out[k] = sx;
    }
    return out;
  }

  /**
   * The primitive fields of each action (headers, bodies and payloads are copied apart);
   * the type holds them to fields the shipped types declare.
   * @type {{ readonly [A in Decision['action']]: readonly Exclude<keyof Extract<Decision, { action: A }>, 'action' | 'headers' | 'body' | 'payload'>[] }}
   */
  const FIELDS = {
    route: ['pool', 'method', 'path', 'key', 'reply'],
    reply: ['contentType', 'code'],
    drop: ['reason'],
    reject: ['reason', 'code'],
    publish: ['topic', 'qos', 'retain', 'contentType'],
    command: ['clientId', 'address', 'qos', 'ttlMs', 'contentType'],
  };

  /**
   * One decision into a fresh plain object holding only primitives, bytes and
   * string maps; the host re-checks every field's type and range.
   * @param {unknown} x
   * @returns {Portable}
   */
  function normalizeOne(x) {
    if (!isPlain(x)) throw new InvalidDecision('a decision must be a plain object such as route(...), reply(...), drop(), reject(...) or publish(...)');
    const action = x.action;
    /** @type {readonly string[] | undefined} */
    const fields = typeof action === 'string' && hasOwnCall(FIELDS, action) ? FIELDS[/** @type {Decision['action']} */ (action)] : undefined;
    if (!fields) throw new InvalidDecision('unknown action ' + clip(action));
    /** @type {Portable} */
    const d = { action: action };
    for (let i = 0; i < fields.length; i++) {
      const k = fields[i];
      const v = x[k];
      if (v === undefined) continue;
      if (v !== null && typeof v === 'object') throw new InvalidDecision(action + '.' + k + ' must be a primitive');
      if (typeof v === 'string') charge(v.length, action + '.' + k);
      d[k] = v;
    }
    if (action === 'route' || action === 'publish') {
      const h = stringMap(x.headers, action + '.headers');
      if (h) d.headers = h;
    }
    if (action === 'route' && x.body !== undefined) d.body = portable(x.body, d, 'route.body');
    if (action === 'reply' || action === 'publish' || action === 'command') d.payload = portable(x.payload, d, action + '.payload');
    return d;
  }

  const MAX_DECISIONS = 64;
  /** @param {unknown} r */
  function normalize(r) {
    left = maxBytes;
    if (r === undefined || r === null) throw new InvalidDecision('onMessage returned nothing; return a decision such as drop()');
    if (r instanceof PromiseCtor || (typeof r === 'object' && typeof (/** @type {{ then?: unknown }} */ (r).then) === 'function')) {
      throw new InvalidDecision('onMessage must return its decision synchronously, not a Promise');
    }
    if (!isArray(r)) return [normalizeOne(r)];
    if (r.length > MAX_DECISIONS) throw new InvalidDecision('at most ' + MAX_DECISIONS + ' decisions per message');
    /** @type {Portable[]} */
    const out = [];
    for (let i = 0; i < r.length; i++) out[i] = normalizeOne(r[i]);
    return out;
  }

  /**
   * @param {unknown} e
   * @returns {[message: string, stack: string]}
   */
  function describeError(e) {
    let message = 'non-error value thrown';
    let stack = '';
    try {
      if (e instanceof ErrorCtor) {
        message = Str(e.name) + ': ' + Str(e.message);
        stack = Str(e.stack);
      } else message = 'threw ' + (typeof e === 'string' ? e : stringify(e));
    } catch {
      /* a hostile error object: keep the generic text */
    }
    return [strSlice(Str(message), 0, 500), strSlice(Str(stack), 0, 2000)];
  }

  /**
   * A lone string crosses the boundary cheapest; bytes, when there are any, ride beside it.
   * @param {RawResult} r
   */
  function result(r) {
    const json = stringify(r);
    return bins.length === 0 ? json : [json, bins];
  }
  // A batch's results, each distinct one once and an index per message, prefixed
  // with their count, so the host can pass the text on without parsing it.
  // 'r' holds each message's result as JSON text. Only short texts are looked
  // up: a property key is internalized, a copy V8 cannot refuse gracefully when
  // it does not fit the isolate's heap (it aborts the process instead).
  const SHARED_MAX = 512;
  /** @param {string[]} r */
  function counted(r) {
    /** @type {Record<string, number>} */
    const seen = create(null);
    let distinct = '';
    let index = '';
    let n = 0;
    for (let i = 0; i < r.length; i++) {
      const json = r[i];
      let k = json.length <= SHARED_MAX ? seen[json] : undefined;
      if (k === undefined) {
        k = n++;
        if (json.length <= SHARED_MAX) seen[json] = k;
        distinct += (k === 0 ? '' : ',') + json;
      }
      index += (i === 0 ? '' : ',') + k;
    }
    const text = r.length + ' [[' + distinct + '],[' + index + ']]';
    return bins.length === 0 ? text : [text, bins];
  }
  /**
   * @param {string} s
   * @param {number} from
   * @param {number} to
   */
  function fromLatin1(s, from, to) {
    const out = new U8(to - from);
    for (let i = from; i < to; i++) out[i - from] = charCodeAt(s, i);
    return out;
  }

  /** @type {{ onMessage?: OnMessage, onResponse?: OnResponse, onConnect?: OnConnect }} */
  let handlers = {};
  /** @type {string[]} */
  let progress = [];

  /**
   * @param {WireMessage} w
   * @param {Source} s
   * @param {Payloads} src
   * @param {number} from
   * @param {number} to
   * @returns {RawResult}
   */
  function runOne(w, s, src, from, to) {
    try {
      return [0, normalize(/** @type {OnMessage} */ (handlers.onMessage)(new Message(w, s, src, from, to), ctx))];
    } catch (e) {
      if (e instanceof InvalidDecision) return [2, e.message];
      const d = describeError(e);
      return [1, d[0], d[1]];
    }
  }

  return {
    /**
     * @param {{ onMessage?: OnMessage, onResponse?: OnResponse, onConnect?: OnConnect }} ns the script's module namespace
     * @param {number} maxMessageBytes
     * @param {number} maxCallBytes
     */
    bind(ns, maxMessageBytes, maxCallBytes) {
      maxBytes = maxMessageBytes;
      callBytes = maxCallBytes;
      handlers = { onMessage: ns.onMessage, onResponse: ns.onResponse, onConnect: ns.onConnect };
      return [typeof ns.onMessage === 'function', typeof ns.onResponse === 'function', typeof ns.onConnect === 'function'];
    },
    // Runs messages until done or until 'sliceMs' has passed, so each message
    // keeps (nearly) the whole per-call time limit; the host calls again for the rest.
    // Messages arrive as JSON text (far cheaper to copy than objects) and their
    // payloads as one Latin-1 string or byte array; a message's part is copied
    // out when its script reads msg.payload.
    // 'from' skips the messages an earlier call of the same batch already ran.
    // A call also stops before a message whose results could take the call's
    // past 'callBytes' (scripts.maxBatchDecisionBytes): a batch of large
    // decisions crosses in several calls, and no message fails for its neighbours'.
    /**
     * @param {string} json `[[source, …], [message, …]]`
     * @param {Payloads} bytes
     * @param {number} now
     * @param {number} sliceMs
     * @param {number} from
     */
    batch(json, bytes, now, sliceMs, from) {
      clock = now;
      progress = [];
      bins = [];
      binBytes = 0;
      let used = 0;
      /** @type {[WireSource[], WireMessage[]]} */
      const b = parse(json);
      const msgs = b[1];
      /** @type {Source[]} */
      const sources = [];
      for (let i = 0; i < b[0].length; i++) sources[i] = sourceOf(b[0][i]);
      const t0 = nowMs();
      let off = 0;
      for (let i = 0; i < from; i++) off += msgs[i][8];
      for (let i = from; i < msgs.length; i++) {
        if (i > from && (nowMs() - t0 > sliceMs || used + binBytes + maxBytes > callBytes)) break;
        const w = msgs[i];
        const end = off + w[8];
        const text = stringify(runOne(w, sources[w[1]], bytes, off, end));
        progress[i - from] = text;
        used += text.length;
        off = end;
      }
      return counted(progress);
    },
    // After a timeout: the results finished before the message that ran out of time.
    progress() {
      return counted(progress);
    },
    /**
     * @param {WireResponse} res
     * @param {[WireSource, WireMessage]} w
     * @param {Uint8Array} payload
     * @param {number} now
     */
    response(res, w, payload, now) {
      clock = now;
      bins = [];
      left = maxBytes;
      return result(responseOne(res, w, payload));
    },
    /**
     * @param {Client} client
     * @param {number} now
     */
    connect(client, now) {
      clock = now;
      bins = [];
      left = maxBytes;
      return result(connectOne(client));
    },
  };

  /**
   * @param {WireResponse} res
   * @param {[WireSource, WireMessage]} w
   * @param {Uint8Array} payload
   * @returns {RawResult}
   */
  function responseOne(res, w, payload) {
    try {
      const body = res[2];
      /** @type {string | undefined} */
      let text;
      /** @type {import('../../../types/thinggate.js').Response} */
      const r = freeze({
        status: res[0],
        headers: freeze(res[1]),
        body: body,
        text: () => (text === undefined ? (text = utf8Decode(body)) : text),
        json: () => parse(r.text()),
      });
      const out = /** @type {OnResponse} */ (handlers.onResponse)(r, new Message(w[1], sourceOf(w[0]), payload, 0, payload.length), ctx);
      if (out === undefined || out === null) return [0, null];
      if (!isPlain(out) || (out.action !== 'reply' && out.action !== 'reject')) {
        return [2, 'onResponse must return reply(...), reject(...) or nothing'];
      }
      return [0, normalizeOne(out)];
    } catch (e) {
      if (e instanceof InvalidDecision) return [2, e.message];
      const d = describeError(e);
      return [1, d[0], d[1]];
    }
  }

  /**
   * @param {Client} client
   * @returns {RawResult}
   */
  function connectOne(client) {
    try {
      /** @type {unknown} */
      const out = /** @type {OnConnect} */ (handlers.onConnect)(freeze(client), ctx);
      if (out === undefined || out === null || out === true) return [0, { action: 'accept' }];
      if (out === false) return [0, { action: 'reject', reason: 'refused by onConnect' }];
      if (!isPlain(out)) return [2, 'onConnect must return accept(...), reject(...), true, false or nothing'];
      if (out.action === 'reject') {
        const reason = Str(out.reason === undefined ? 'refused by onConnect' : out.reason);
        charge(reason.length, 'reject.reason');
        return [0, { action: 'reject', reason: reason, code: typeof out.code === 'number' ? out.code : 403 }];
      }
      if (out.action !== 'accept') return [2, 'onConnect must return accept(...), reject(...), true, false or nothing'];
      /** @type {Mutable<AcceptDecision>} */
      const d = { action: 'accept' };
      if (out.principal !== undefined) {
        d.principal = Str(out.principal);
        charge(d.principal.length, 'accept.principal');
      }
      const a = stringMap(out.attributes, 'accept.attributes');
      if (a) d.attributes = a;
      return [0, d];
    } catch (e) {
      if (e instanceof InvalidDecision) return [2, e.message];
      const d = describeError(e);
      return [1, d[0], d[1]];
    }
  }
})();
