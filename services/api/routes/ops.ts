import type { Hub } from '../../hub.js';
import { route, type AnyRoute } from '../route.js';
import { healthSchema, openApiDocumentSchema, readySchema } from '../response-schema.js';

export function opsRoutes(hub: Hub, openapi: () => unknown): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the process is up',
      tag: 'operations',
      auth: 'none',
      returns: { 200: healthSchema },
      responses: { 200: 'alive' },
      async handle() {
        return { body: { status: 'ok' } };
      },
    }),
    route({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: the store can be reached',
      tag: 'operations',
      auth: 'none',
      returns: { 200: readySchema, 503: readySchema },
      responses: { 200: 'ready', 503: 'not ready (Retry-After)' },
      async handle() {
        const ready = await hub.store.ready().catch(() => false);
        return ready ? { body: { status: 'ready', store: hub.store.kind } } : { status: 503, body: { status: 'not ready', store: hub.store.kind }, headers: { 'Retry-After': '5' } };
      },
    }),
    route({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      tag: 'operations',
      auth: 'none',
      responses: { 200: 'the metrics in the Prometheus text format' },
      produces: 'text/plain; version=0.0.4',
      async handle({ res }) {
        res.setHeader('Content-Type', hub.metrics.registry.contentType);
        res.end(await hub.metrics.registry.metrics());
        return undefined;
      },
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      summary: 'This OpenAPI document',
      tag: 'operations',
      auth: 'none',
      returns: { 200: openApiDocumentSchema },
      responses: { 200: 'OpenAPI 3.1' },
      async handle() {
        return { body: openapi() };
      },
    }),
  ];
}
