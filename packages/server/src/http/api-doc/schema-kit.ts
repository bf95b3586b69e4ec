/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1), as plain data. */
export type Schema = { readonly [key: string]: unknown };

/** A reference to a schema of the document's `components.schemas`. */
export function ref(name: string): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

/** An object schema; `required` lists the keys always present. Other keys are allowed (Ollama adds fields over time). */
export function obj(properties: Record<string, Schema>, required: readonly string[] = [], description?: string): Schema {
  return { type: 'object', properties, ...(required.length > 0 ? { required: [...required] } : {}), ...(description ? { description } : {}) };
}

export const str = (description?: string): Schema => ({ type: 'string', ...(description ? { description } : {}) });
export const int = (description?: string): Schema => ({ type: 'integer', ...(description ? { description } : {}) });
export const num = (description?: string): Schema => ({ type: 'number', ...(description ? { description } : {}) });
export const bool = (description?: string): Schema => ({ type: 'boolean', ...(description ? { description } : {}) });
export const arr = (items: Schema, description?: string): Schema => ({ type: 'array', items, ...(description ? { description } : {}) });
/** A map from strings to `values`. */
export const map = (values: Schema, description?: string): Schema => ({ type: 'object', additionalProperties: values, ...(description ? { description } : {}) });
export const oneOf = (...schemas: Schema[]): Schema => ({ oneOf: schemas });
export const nullable = (s: Schema): Schema => ({ oneOf: [s, { type: 'null' }] });
