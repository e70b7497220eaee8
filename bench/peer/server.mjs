// The peer of bench/run.sh: node-oidc-provider configured like our server for the benchmark.
// client_credentials with RFC 9068-style JWT access tokens (ES256) bound to one resource through the
// resourceIndicators feature, a client_secret_basic client, introspection on, the in-memory adapter
// (its store's bound raised, below).
// For the write paths: a public client (`none`, PKCE) with authorization_code and refresh_token,
// refresh tokens rotated on every use, open dynamic registration (`/reg`), and one bench-only route,
// `POST /bench/mint-codes`, that mints authorization codes through the provider's own models (a
// Grant and an AuthorizationCode each, as its interaction flow would save them), one per PKCE
// challenge of the body: the interaction flow itself would need a login per code.
// Listens on 127.0.0.1 only (port from PEER_PORT, default 0) and prints `peer listening on URL`.
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
// The provider's own in-memory adapter and its LRU store, with the bound raised: the default store
// keeps 1 000 entries, and codes minted before a run (tens of thousands) would be evicted before
// they are redeemed ("grant request is invalid"). Same adapter code, same data structure.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

const RESOURCE = process.env.PEER_RESOURCE ?? 'https://bench.example/api';
// node-oidc-provider refuses to introspect its JWT access tokens ("Structured JWT Tokens cannot be
// introspected"): tokens for this second resource are opaque, for the introspection scenario.
const OPAQUE_RESOURCE = process.env.PEER_OPAQUE_RESOURCE ?? 'https://bench.example/opaque';
const CLIENT_ID = process.env.PEER_CLIENT_ID ?? 'bench-client';
const CLIENT_SECRET = process.env.PEER_CLIENT_SECRET ?? 'bench-secret-0123456789abcdef0123456789';
const PUBLIC_CLIENT_ID = process.env.PEER_PUBLIC_CLIENT_ID ?? 'bench-public';
const REDIRECT_URI = process.env.PEER_REDIRECT_URI ?? 'http://127.0.0.1:9999/callback';
const port = Number(process.env.PEER_PORT ?? 0);

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const storage = new LRU({ maxSize: Number(process.env.PEER_STORE_MAX ?? 5_000_000) });

const make = (issuer) => new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, storage),
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
    scope: 'mcp:tools',
  }, {
    client_id: PUBLIC_CLIENT_ID,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'none',
    id_token_signed_response_alg: 'ES256',
    scope: 'offline_access mcp:tools',
  }],
  jwks: { keys: [jwk] },
  scopes: ['offline_access', 'mcp:tools'],
  // Every refresh spends the token and issues a new one (ours always rotates).
  rotateRefreshToken: true,
  // Registered clients sign with the one key there is (the default, RS256, has no key here).
  clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code'], response_types: ['code'] },
  // Codes are minted before a run; ours allow the same 600 s in the harness (MCP_OAUTH_CODE_TTL).
  ttl: { AuthorizationCode: 600, RefreshToken: 30 * 86_400, Grant: 90 * 86_400 },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
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
        if (resource !== RESOURCE) throw new errors.InvalidTarget();
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
  const callback = provider.callback();
  handler = (req, res) => (req.method === 'POST' && req.url === '/bench/mint-codes'
    ? mintCodes(provider, req, res) : callback(req, res));
  console.log(`peer listening on ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 1000).unref());

// POST /bench/mint-codes: one PKCE S256 challenge a line in, one authorization code a line out, for
// the public client, the resource and `offline_access mcp:tools`, each with a grant of its own.
async function mintCodes(provider, req, res) {
  try {
    let body = '';
    for await (const chunk of req) body += chunk;
    const client = await provider.Client.find(PUBLIC_CLIENT_ID);
    const authTime = Math.floor(Date.now() / 1000);
    const codes = [];
    for (const challenge of body.split('\n').filter(Boolean)) {
      const grant = new provider.Grant({ accountId: 'bench-user', clientId: PUBLIC_CLIENT_ID });
      grant.addOIDCScope('offline_access');
      grant.addResourceScope(RESOURCE, 'mcp:tools');
      const grantId = await grant.save();
      const code = new provider.AuthorizationCode({
        client,
        accountId: 'bench-user',
        grantId,
        scope: 'offline_access mcp:tools',
        resource: RESOURCE,
        redirectUri: REDIRECT_URI,
        codeChallenge: challenge,
        codeChallengeMethod: 'S256',
        authTime,
        expiresWithSession: false,
      });
      codes.push(await code.save());
    }
    res.setHeader('content-type', 'text/plain');
    res.end(codes.join('\n'));
  } catch (e) {
    res.statusCode = 500;
    res.end(String(e?.stack ?? e));
  }
}
