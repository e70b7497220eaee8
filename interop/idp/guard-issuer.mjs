// node-oidc-provider as the identity provider in front of which `mcp-oauth guard` runs
// (crates/cli/tests/guard_e2e/live_idp.rs): client_credentials with resource indicators (RFC 8707),
// RFC 9068 JWT access tokens (ES256, `typ: at+jwt`) for GUARD_JWT_RESOURCE, opaque ones for
// GUARD_OPAQUE_RESOURCE (node-oidc-provider refuses to introspect its JWTs), introspection (RFC
// 7662) for the guard's own client, in-memory adapter. Binds 127.0.0.1 on a free port and prints
// `guard issuer listening on URL`.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const JWT_RESOURCE = process.env.GUARD_JWT_RESOURCE ?? 'https://mcp.example.com/mcp';
const OPAQUE_RESOURCE = process.env.GUARD_OPAQUE_RESOURCE ?? 'https://opaque.example.com/mcp';
const SCOPES = ['mcp:tools', 'mcp:admin'];

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'guard-es256', alg: 'ES256', use: 'sig' };

const make = (issuer) => new Provider(issuer, {
  clients: [
    {
      // The MCP client (machine to machine).
      client_id: 'mcp-client',
      client_secret: 'mcp-client-secret-0123456789abcdef0123',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: SCOPES.join(' '),
    },
    {
      // The guard itself, for introspection only.
      client_id: 'guard',
      client_secret: 'guard-secret-0123456789abcdef0123456789',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [jwk] },
  scopes: SCOPES,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => JWT_RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource === OPAQUE_RESOURCE) {
          return { scope: SCOPES.join(' '), audience: OPAQUE_RESOURCE, accessTokenTTL: 600, accessTokenFormat: 'opaque' };
        }
        if (resource !== JWT_RESOURCE) throw new Provider.errors.InvalidTarget();
        return {
          scope: SCOPES.join(' '),
          audience: JWT_RESOURCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
});

// The issuer names the port, known only once listening: bind first, then mount.
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = make(issuer);
  handler = provider.callback();
  console.log(`guard issuer listening on ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
