export type Schema = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Where a value departs from a schema of an OpenAPI document: a wrong type, enum or const, a required
 * field missing, or a field the schema does not declare (the schemas stay open for fields added later, so
 * an undeclared one is a field the document has not caught up with). Enough JSON Schema for these documents.
 */
export function misfits(doc: Schema, schema: Schema, value: unknown, at = '$'): string[] {
  if (schema.$ref) return misfits(doc, doc.components.schemas[(schema.$ref as string).split('/').pop()!], value, at);
  if (schema.oneOf) {
    const fits = (schema.oneOf as Schema[]).filter((s) => misfits(doc, s, value, at).length === 0).length;
    return fits === 1 ? [] : [`${at}: fits ${fits} of oneOf`];
  }
  if (schema.anyOf) {
    const each = (schema.anyOf as Schema[]).map((s) => misfits(doc, s, value, at));
    return each.some((m) => m.length === 0) ? [] : [`${at}: fits none of anyOf (${each.map((m) => m.join(', ')).join(' | ')})`];
  }
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  if (schema.type && !(schema.type === type || (schema.type === 'integer' && Number.isInteger(value)) || (schema.type === 'number' && type === 'number'))) return [`${at}: ${type}, not ${schema.type}`];
  if (schema.enum && !schema.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`];
  if ('const' in schema && schema.const !== value) return [`${at}: ${JSON.stringify(value)}, not ${JSON.stringify(schema.const)}`];
  if (type === 'array' && schema.items) return (value as unknown[]).flatMap((v, i) => misfits(doc, schema.items, v, `${at}[${i}]`));
  if (type !== 'object') return [];
  const o = value as Record<string, unknown>;
  if (!schema.properties) return schema.additionalProperties && typeof schema.additionalProperties === 'object' ? Object.entries(o).flatMap(([k, v]) => misfits(doc, schema.additionalProperties, v, `${at}.${k}`)) : [];
  return [
    ...((schema.required ?? []) as string[]).filter((k) => !(k in o)).map((k) => `${at}.${k}: required`),
    ...Object.entries(o).flatMap(([k, v]) => (schema.properties[k] ? misfits(doc, schema.properties[k], v, `${at}.${k}`) : [`${at}.${k}: not documented`])),
  ];
}
