/**
 * A record's own entry for a key that comes from outside (a person id, a skill, an activity name), never
 * one inherited from `Object.prototype`: `constructor` is a valid id and skill name, and `toString` a
 * string anyone may send.
 */
export function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
