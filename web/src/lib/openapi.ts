// Reading the API's own OpenAPI 3.1 description (GET /api/openapi.json) for the API page: the
// operations grouped by tag, a compact TypeScript-like rendering of each schema, an example body,
// and the curl command line for an operation.

export type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  prefixItems?: Schema[];
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  description?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
};

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  schema?: Schema;
}

export interface Access {
  public?: boolean;
  level?: 'read' | 'operate' | 'admin';
  tokens?: boolean;
}

export interface Operation {
  method: string;
  path: string;
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  access: Access;
  parameters: Parameter[];
  body?: Schema;
  responses: { status: string; description: string; schema?: Schema; type?: string }[];
}

export interface Spec {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, RawOp>>;
  components: { schemas: Record<string, Schema> };
}

interface RawOp {
  operationId: string;
  summary: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: Schema }> }>;
  'x-proxwatch-access'?: Access;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** The operations, in path order, each method in the usual order. */
export function operations(spec: Spec): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(spec.paths).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      out.push({
        method,
        path,
        operationId: op.operationId,
        summary: op.summary,
        description: op.description ?? '',
        tags: op.tags ?? [],
        access: op['x-proxwatch-access'] ?? {},
        parameters: op.parameters ?? [],
        body: op.requestBody?.content['application/json']?.schema,
        responses: Object.entries(op.responses).map(([status, r]) => {
          const [type, c] = Object.entries(r.content ?? {})[0] ?? [undefined, undefined];
          return { status, description: r.description, schema: c?.schema, type };
        }),
      });
    }
  }
  return out;
}

/** The access as one short word: public, read, operate, admin, or session-only. */
export function accessLabel(a: Access): string {
  if (a.public) return 'public';
  return a.tokens === false ? `session · ${a.level ?? 'read'}` : (a.level ?? 'read');
}

function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

function resolve(spec: Spec, s: Schema): Schema {
  let cur = s;
  for (let i = 0; i < 8 && cur.$ref; i++) cur = spec.components.schemas[refName(cur.$ref)] ?? {};
  return cur;
}

/**
 * A schema as TypeScript-like text. Named schemas are expanded once, to `depth` levels; deeper or
 * repeated ones are shown by name.
 */
export function typeText(spec: Spec, s: Schema | undefined, depth = 3, indent = '', seen: string[] = []): string {
  if (!s) return 'unknown';
  if (s.$ref) {
    const name = refName(s.$ref);
    if (depth <= 0 || seen.includes(name)) return name;
    return typeText(spec, resolve(spec, s), depth - 1, indent, [...seen, name]);
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const alts = s.oneOf ?? s.anyOf;
  if (alts) return alts.map((a) => typeText(spec, a, depth, indent, seen)).join(' | ');
  if (s.allOf) return s.allOf.map((a) => typeText(spec, a, depth, indent, seen)).join(' & ');
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const parts = types.map((t) => {
    switch (t) {
      case 'object': {
        const props = Object.entries(s.properties ?? {});
        const extra = s.additionalProperties;
        if (!props.length) {
          if (extra && typeof extra === 'object') return `{ [key: string]: ${typeText(spec, extra, depth, indent, seen)} }`;
          return 'object';
        }
        const inner = indent + '  ';
        const req = new Set(s.required ?? []);
        const lines = props.map(
          ([k, v]) => `${inner}${k}${req.has(k) ? '' : '?'}: ${typeText(spec, v, depth, inner, seen)};`,
        );
        return `{\n${lines.join('\n')}\n${indent}}`;
      }
      case 'array':
        if (s.prefixItems) return `[${s.prefixItems.map((p) => typeText(spec, p, depth, indent, seen)).join(', ')}]`;
        return `${typeText(spec, s.items, depth, indent, seen)}[]`;
      case 'integer':
        return 'integer';
      default:
        return t;
    }
  });
  return parts.length ? parts.join(' | ') : 'unknown';
}

/** A plausible example value for a schema (for request bodies in curl lines). */
export function example(spec: Spec, s: Schema | undefined, depth = 4): unknown {
  if (!s || depth < 0) return null;
  if (s.$ref) return example(spec, resolve(spec, s), depth - 1);
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return s.enum[0];
  const alt = (s.oneOf ?? s.anyOf)?.[0];
  if (alt) return example(spec, alt, depth);
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  switch (t) {
    case 'object': {
      const o: Record<string, unknown> = {};
      const req = new Set(s.required ?? []);
      for (const [k, v] of Object.entries(s.properties ?? {})) if (req.has(k)) o[k] = example(spec, v, depth - 1);
      return o;
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return s.minimum ?? 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    default:
      return null;
  }
}

/** Single-quotes a word for a POSIX shell. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The operation as a curl command line against `origin`, with the token from `$PROXWATCH_TOKEN`
 * (never a real secret on the page). Path parameters stay as `{name}` for the user to fill in.
 */
export function curl(spec: Spec, op: Operation, origin: string): string {
  const head = op.access.tokens === false ? '# API tokens are refused here: this route needs a browser session.\n' : '';
  const lines = [`${head}curl -sS${op.method === 'get' ? '' : ` -X ${op.method.toUpperCase()}`}`];
  if (!op.access.public && op.access.tokens !== false) {
    lines.push(`-H "Authorization: Bearer $PROXWATCH_TOKEN"`);
  }
  if (op.body) {
    lines.push(`-H 'Content-Type: application/json'`);
    lines.push(`--data ${sq(JSON.stringify(example(spec, op.body)))}`);
  }
  lines.push(sq(origin + op.path));
  return lines.join(' \\\n  ');
}
