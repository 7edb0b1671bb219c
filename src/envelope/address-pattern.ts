/**
 * Addresses and patterns with MQTT topic semantics (MQTT 5.0 §4.7): levels
 * split by '/', '+' matches one level, '#' (last) matches any number of
 * levels including the parent. Used by route matching and by subscriptions.
 */

/** Why a topic filter is invalid, or undefined when it is valid. */
export function filterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'empty topic filter [MQTT-4.7.3-1]';
  if (filter.includes('\u0000')) return 'topic filter contains U+0000 [MQTT-4.7.3-2]';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return "'#' must stand alone as the last level [MQTT-4.7.1-1]";
    }
    if (level.includes('+') && level !== '+') return "'+' must occupy a whole level [MQTT-4.7.1-2]";
  }
  return undefined;
}

/** Why a topic name (as published) is invalid, or undefined when it is valid. */
export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic name [MQTT-4.7.3-1]';
  if (topic.includes('\u0000')) return 'topic name contains U+0000 [MQTT-4.7.3-2]';
  if (topic.includes('+') || topic.includes('#')) return 'wildcard in a topic name [MQTT-3.3.2-2]';
  return undefined;
}

/** A filter split into levels once, for matching many topics. */
export type CompiledFilter = readonly string[];

export function compileFilter(filter: string): CompiledFilter {
  return filter.split('/');
}

/** True when the compiled filter matches `topic`. Wildcards at the first level do not match '$' topics [MQTT-4.7.2-1]. */
export function matchesCompiled(levels: CompiledFilter, topic: string): boolean {
  const first = levels[0];
  if (topic.charCodeAt(0) === 36 /* $ */ && (first === '+' || first === '#')) return false;
  let start = 0;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '#') return true; // matches the parent level and everything below it
    if (start > topic.length) return false;
    let end = topic.indexOf('/', start);
    if (end === -1) end = topic.length;
    if (level !== '+' && (level.length !== end - start || !topic.startsWith(level, start))) return false;
    start = end + 1;
  }
  return start === topic.length + 1;
}

/** True when `filter` matches `topic`. */
export function matchesFilter(filter: string, topic: string): boolean {
  return matchesCompiled(compileFilter(filter), topic);
}
