import { describe, it, expect } from 'vitest';
import { filterProblem, topicNameProblem, matchesFilter } from '../../../src/envelope/address-pattern.js';

describe('MQTT topic filters', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a', false],
    ['a/+', 'a/', true], // an empty level is a level
    ['a/#', 'a', true], // '#' includes the parent [MQTT-4.7.1-2]
    ['a/#', 'a/b/c', true],
    ['a/#', 'ab', false],
    ['#', 'a/b', true],
    ['+/+', 'a/b', true],
    ['+', '/a', false],
    ['+/a', '/a', true],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['abc', 'ab', false],
    ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(matchesFilter(filter, topic)).toBe(expected);
  });

  it('validates filters and topic names citing the spec', () => {
    expect(filterProblem('a/#/b')).toMatch(/MQTT-4\.7\.1-1/);
    expect(filterProblem('a/b#')).toMatch(/MQTT-4\.7\.1-1/);
    expect(filterProblem('a/b+')).toMatch(/MQTT-4\.7\.1-2/);
    expect(filterProblem('')).toMatch(/MQTT-4\.7\.3-1/);
    expect(filterProblem('a/+/#')).toBeUndefined();
    expect(topicNameProblem('a/+')).toMatch(/MQTT-3\.3\.2-2/);
    expect(topicNameProblem('a\u0000b')).toMatch(/MQTT-4\.7\.3-2/);
    expect(topicNameProblem('a/b')).toBeUndefined();
  });
});
