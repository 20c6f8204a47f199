import { describe, expect, it } from 'vitest';
import { formatGatewayError } from '../src/app.js';

describe('formatGatewayError', () => {
  it("drops the internal URL, status and body Apollo Gateway attaches to a subgraph's non-2xx answer", () => {
    const out = formatGatewayError({
      message: '401: Unauthorized',
      extensions: {
        code: 'UNAUTHENTICATED',
        response: { url: 'http://registration.internal:4001/graphql', status: 401, statusText: 'Unauthorized', body: { errors: [] } },
      },
    });
    expect(out).toEqual({ message: '401: Unauthorized', extensions: { code: 'UNAUTHENTICATED' } });
    expect(JSON.stringify(out)).not.toContain('internal');
  });

  it('turns an unreachable subgraph into SERVICE_UNAVAILABLE without its address', () => {
    const out = formatGatewayError({
      message: 'request to http://10.0.0.7:4002/graphql failed, reason: connect ECONNREFUSED',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(out.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 });
    expect(out.message).not.toContain('10.0.0.7');
  });
});
