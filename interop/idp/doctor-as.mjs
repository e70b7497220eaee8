// node-oidc-provider as the authorization server of a resource doctor examines
// (crates/cli/tests/doctor/idp.rs): dynamic registration on, a client_credentials client
// (DOCTOR_CLIENT_ID / DOCTOR_CLIENT_SECRET), RFC 9068-style JWT access tokens (ES256) bound to
// DOCTOR_RESOURCE through the resourceIndicators feature, in-memory adapter. Listens on
// 127.0.0.1:0 and prints `doctor-as listening on ISSUER`.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const RESOURCE = process.env.DOCTOR_RESOURCE;
const CLIENT_ID = process.env.DOCTOR_CLIENT_ID ?? 'doctor-bot';
const CLIENT_SECRET = process.env.DOCTOR_CLIENT_SECRET;
if (!RESOURCE || !CLIENT_SECRET) {
  console.error('DOCTOR_RESOURCE and DOCTOR_CLIENT_SECRET are required');
  process.exit(2);
}

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'doctor-es256', alg: 'ES256', use: 'sig' };

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
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'mcp:tools',
          audience: RESOURCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
});

// The issuer must name the port, which is known only once listening: bind first, then mount.
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = make(issuer);
  provider.proxy = false;
  handler = provider.callback();
  console.log(`doctor-as listening on ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 1000).unref());
