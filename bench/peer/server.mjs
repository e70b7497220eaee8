// The peer of bench/run.sh: node-oidc-provider configured like our server for the benchmark.
// client_credentials with RFC 9068-style JWT access tokens (ES256) bound to one resource through the
// resourceIndicators feature, a client_secret_basic client, introspection on, in-memory adapter.
// Listens on 127.0.0.1 only (port from PEER_PORT, default 0) and prints `peer listening on URL`.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const RESOURCE = process.env.PEER_RESOURCE ?? 'https://bench.example/api';
// node-oidc-provider refuses to introspect its JWT access tokens ("Structured JWT Tokens cannot be
// introspected"): tokens for this second resource are opaque, for the introspection scenario.
const OPAQUE_RESOURCE = process.env.PEER_OPAQUE_RESOURCE ?? 'https://bench.example/opaque';
const CLIENT_ID = process.env.PEER_CLIENT_ID ?? 'bench-client';
const CLIENT_SECRET = process.env.PEER_CLIENT_SECRET ?? 'bench-secret-0123456789abcdef0123456789';
const port = Number(process.env.PEER_PORT ?? 0);

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const make = (issuer) => new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
    scope: 'mcp:tools',
  }],
  jwks: { keys: [jwk] },
  scopes: ['mcp:tools'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource === OPAQUE_RESOURCE) {
          return { scope: 'mcp:tools', audience: OPAQUE_RESOURCE, accessTokenTTL: 3600, accessTokenFormat: 'opaque' };
        }
        if (resource !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'mcp:tools',
          audience: RESOURCE,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
});

// The issuer must name the port, which is known only once listening: bind first, then mount.
import { createServer } from 'node:http';
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const { port: p } = server.address();
  const issuer = `http://127.0.0.1:${p}`;
  const provider = make(issuer);
  provider.proxy = false;
  handler = provider.callback();
  console.log(`peer listening on ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 1000).unref());
