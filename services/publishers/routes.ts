import { targetInputSchema } from '../../shared/domain/target.js';
import { tenantOf } from '../api/auth.js';
import { recordId } from '../api/http-errors.js';
import { route, type AnyRoute } from '../api/route.js';
import type { PublishPipeline } from './pipeline.js';
import { targetStatus } from './status-view.js';
import { publicTarget, type TargetsService } from './targets-service.js';
import type { Clock } from '../../shared/clock/clock.js';
import type { Store } from '../../shared/store/port.js';
import { targetAnswerSchema, targetListSchema, targetSchema, targetSecretSchema, targetStatusSchema } from '../api/response-schema.js';

export function targetRoutes(deps: { store: Store; targets: TargetsService; pipeline: PublishPipeline; clock: Clock }): AnyRoute[] {
  const { targets, pipeline, store } = deps;
  return [
    route({
      method: 'get',
      path: '/v1/targets',
      summary: 'Push targets of the tenant (SIP presence servers, webhooks, Asterisk ARI), without secrets (signing secrets and passwords are write-only)',
      tag: 'targets',
      auth: 'key',
      roles: ['admin'],
      returns: { 200: targetListSchema },
      responses: { 200: 'the targets' },
      async handle({ principal }) {
        return { body: { targets: (await targets.list(tenantOf(principal))).map(publicTarget) } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/targets/:targetId',
      summary: 'One push target',
      tag: 'targets',
      auth: 'key',
      roles: ['admin'],
      returns: { 200: targetSchema },
      responses: { 200: 'the target', 404: 'unknown target (target_not_found)' },
      async handle({ principal, params }) {
        return { body: publicTarget(await targets.get(tenantOf(principal), params.targetId!)) };
      },
    }),
    route({
      method: 'put',
      path: '/v1/targets/:targetId',
      summary: 'Create or replace a push target; a new webhook target returns its signing secret once',
      tag: 'targets',
      auth: 'key',
      roles: ['admin'],
      body: targetInputSchema,
      returns: { 200: targetAnswerSchema, 201: targetAnswerSchema },
      responses: { 200: 'replaced', 201: 'created', 404: 'the tenant was deleted meanwhile (tenant_not_found): nothing stored', 422: 'URL not allowed, the SSRF guard (invalid_url, unsupported_scheme, https_required, credentials_in_url, unresolvable_host), or missing password (password_required)' },
      async handle({ principal, params, body }) {
        const tenantId = tenantOf(principal);
        const id = recordId(params.targetId, 'target');
        const existed = await store.directory.get('targets', tenantId, id);
        const { op, secret } = await targets.prepare(tenantId, id, body);
        await targets.write(tenantId, op);
        await pipeline.reload(tenantId, id);
        const target = publicTarget(await targets.get(tenantId, id));
        return { status: existed ? 200 : 201, body: secret ? { target, secret } : { target } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/targets/:targetId',
      summary: 'Delete a push target',
      tag: 'targets',
      auth: 'key',
      roles: ['admin'],
      responses: { 204: 'deleted', 404: 'unknown target (target_not_found)' },
      async handle({ principal, params }) {
        const tenantId = tenantOf(principal);
        await targets.delete(tenantId, params.targetId!);
        await pipeline.reload(tenantId, params.targetId!);
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/v1/targets/:targetId/secret',
      summary: "Rotate a webhook target's signing secret (returned once)",
      tag: 'targets',
      auth: 'key',
      roles: ['admin'],
      returns: { 200: targetSecretSchema },
      responses: { 200: 'the new secret, and until when the one it replaces still signs beside it', 404: 'unknown target, also one deleted as the secret is written (target_not_found): not brought back', 422: 'not a webhook target (not_a_webhook)' },
      async handle({ principal, params }) {
        const tenantId = tenantOf(principal);
        const { secret, previousSecretUntil } = await targets.rotateSecret(tenantId, params.targetId!, deps.clock.now());
        await pipeline.reload(tenantId, params.targetId!);
        return { body: { secret, previousSecretUntil: new Date(previousSecretUntil).toISOString() } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/targets/:targetId/status',
      summary:
        "Publishing status: healthy/failing/idle, last success and error (target URLs redacted: no userinfo, query values hidden), deliveries, what waits for a retry; while failing, nextProbeAt: when the one delivery let through at a time (the probe) goes out next, or, for a publisher that could not start (lastError says why), when it is tried again. Any replica answers: the publishing replica's own status, or the one it last reported (reportedBy, reportedAt); unknown (reason owner-not-reporting) when the replica holding the target has not reported within a lease period",
      tag: 'targets',
      auth: 'key',
      roles: ['admin'],
      returns: { 200: targetStatusSchema },
      responses: {
        200: 'the status: state healthy, failing (with nextProbeAt, null while a probe is on its way or nobody waits) or idle (with reportedBy and reportedAt when another replica publishes the target), starting (no replica publishes it yet), disabled, or unknown (owner not reporting)',
        404: 'unknown target (target_not_found)',
      },
      async handle({ principal, params }) {
        const target = await targets.get(tenantOf(principal), params.targetId!);
        return { body: await targetStatus(deps, target) };
      },
    }),
  ];
}
