// Test-only OpenID Connect provider for keyward's integration tests.
//
// Usage: node tests/peers/oidc-server.mjs [PORT]      (or PORT=... in the environment;
//        0 or nothing picks a free port). Listens on 127.0.0.1 only, issuer
//        http://127.0.0.1:PORT, and prints exactly one line on stdout when ready:
//          listening on http://127.0.0.1:PORT
// Everything else (oidc-provider notices, request errors) goes to stderr.
//
// Real endpoints (oidc-provider 8.x, all state in memory, lost on exit):
//   GET  /.well-known/openid-configuration   discovery
//   POST /token                              refresh_token (rotating), client_credentials,
//                                            device_code, authorization_code grants
//   POST /token/revocation                   RFC 7009
//   POST /token/introspection                RFC 7662
//   POST /device/auth                        RFC 8628 device authorization (answers
//                                            "interval": 1 so device-flow tests poll fast)
// Test-only endpoints (NOT part of any standard, so tests need no browser):
//   POST /test/grant            -> {access_token, refresh_token, token_type, expires_in, scope}
//                                  optional JSON or form body: scope, expires_in (access token
//                                  TTL s), refresh_expires_in (refresh token TTL s), sub
//   POST /test/device/approve   user_code=...  -> marks a pending device code as approved
//   POST /test/device/deny      user_code=...  -> marks it denied (poll then gets access_denied)
//
// Replay behaviour (observed with 8.8.1, see tests/peers/README.md): refresh tokens rotate
// on every use; presenting an already-used refresh token answers 400 invalid_grant
// ("grant request is invalid") AND revokes the whole grant, so the refresh token issued by
// the rotation and all access tokens of that grant stop working too.

import http from 'node:http';

import Provider from 'oidc-provider';

// oidc-provider prints its configuration NOTICEs with console.info (stdout). Send them to
// stderr so the readiness line is the only thing a test harness ever sees on stdout.
console.info = (...args) => console.error(...args);

/** Fixed credentials of the test client; tests hard-code these too. */
const CLIENT_ID = 'keyward-test';
const CLIENT_SECRET = 'keyward-test-secret';
/** Subject of the fixed account that the test-only routes grant for. */
const ACCOUNT = 'keyward-test-user';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Seconds between device-flow polls that /device/auth advertises. */
const DEVICE_POLL_INTERVAL = 1;

const requested = process.argv[2] ?? process.env.PORT ?? '0';
if (!/^\d+$/.test(requested)) {
  console.error(`oidc-server: bad port ${JSON.stringify(requested)}`);
  process.exit(2);
}

// Listen first so that port 0 works: the issuer has to contain the real port.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(requested), '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    // oidc-provider accepts both client_secret_basic and client_secret_post for any client
    // registered with either of them (it checks the secret, not the transport).
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // Fixed keys only silence a startup warning; cookies matter just for the browser flow.
  cookies: { keys: ['keyward-test-cookie-key'] },
  scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
  features: {
    clientCredentials: { enabled: true },
    deviceFlow: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    // Without resource indicators every access token is opaque (never a JWT), which keeps
    // introspection the only way to learn about a token, as with most real providers.
    resourceIndicators: { enabled: false },
  },
  // Always rotate: each refresh returns a new refresh token and consumes the old one, so
  // reuse of the old one is detectable (see the header comment for what happens then).
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 600,
    DeviceCode: 600,
    Grant: 14 * 24 * 3600,
    IdToken: 3600,
    Interaction: 3600,
    RefreshToken: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
  },
  // The default findAccount accepts any subject, which is all the tests need.
});
provider.on('server_error', (ctx, err) => console.error('oidc-server: server_error', err));
// Token endpoint errors carry the real reason only in error_detail (the response says just
// "grant request is invalid"); log it so a failing test's peer log explains itself.
provider.on('grant.error', (ctx, err) => console.error(`oidc-server: grant.error ${err.error}: ${err.error_detail ?? err.message}`));
// oidc-provider omits `interval`, which makes RFC 8628 clients wait the default 5 s between
// polls. Advertise 1 s so device-flow tests stay fast; it does not enforce slow_down.
provider.on('device_authorization.success', (ctx) => { ctx.body.interval = DEVICE_POLL_INTERVAL; });

/** Reads the request body and parses it as JSON or urlencoded form; empty -> {}. */
async function readParams(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw.trim()) return {};
  if ((req.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(raw);
  return Object.fromEntries(new URLSearchParams(raw));
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Creates a stored Grant for the fixed account and the test client. */
async function newGrant(sub, scope) {
  const grant = new provider.Grant({ accountId: sub, clientId: CLIENT_ID });
  grant.addOIDCScope(scope);
  await grant.save();
  return grant;
}

/** POST /test/grant: what a finished authorization_code flow would have returned. */
async function testGrant(params) {
  const scope = params.scope ?? 'openid offline_access';
  const sub = params.sub ?? ACCOUNT;
  const client = await provider.Client.find(CLIENT_ID);
  const grant = await newGrant(sub, scope);
  const common = {
    accountId: sub, client, grantId: grant.jti, gty: 'authorization_code', scope,
  };
  const at = new provider.AccessToken({
    ...common,
    ...(params.expires_in ? { expiresIn: Number(params.expires_in) } : {}),
  });
  const rt = new provider.RefreshToken({
    ...common,
    authTime: Math.floor(Date.now() / 1000),
    rotations: 0,
    ...(params.refresh_expires_in ? { expiresIn: Number(params.refresh_expires_in) } : {}),
  });
  const body = {
    access_token: await at.save(),
    token_type: 'Bearer',
    expires_in: at.expiration,
    scope,
  };
  if (scope.split(' ').includes('offline_access')) body.refresh_token = await rt.save();
  return body;
}

/** Finds the pending device code for a user code as typed (dashes/case do not matter). */
async function pendingDeviceCode(params) {
  const userCode = String(params.user_code ?? '').toUpperCase().replace(/\W/g, '');
  const code = userCode && await provider.DeviceCode.findByUserCode(userCode);
  if (!code) return undefined;
  if (code.accountId || code.error) return undefined; // already decided
  return code;
}

/** POST /test/device/approve: does what the user-code page + login + consent would do. */
async function approveDevice(params) {
  const code = await pendingDeviceCode(params);
  if (!code) return [404, { error: 'not_found', error_description: 'no pending device code for that user_code' }];
  const scope = code.params?.scope ?? 'openid';
  const grant = await newGrant(ACCOUNT, scope);
  Object.assign(code, {
    accountId: ACCOUNT,
    authTime: Math.floor(Date.now() / 1000),
    grantId: grant.jti,
    scope,
  });
  await code.save();
  return [200, { approved: true, scope }];
}

/** POST /test/device/deny: the user pressed "no" on the device page. */
async function denyDevice(params) {
  const code = await pendingDeviceCode(params);
  if (!code) return [404, { error: 'not_found', error_description: 'no pending device code for that user_code' }];
  Object.assign(code, { error: 'access_denied', errorDescription: 'End-User aborted interaction' });
  await code.save();
  return [200, { denied: true }];
}

const testRoutes = {
  '/test/grant': async (params) => [200, await testGrant(params)],
  '/test/device/approve': approveDevice,
  '/test/device/deny': denyDevice,
};

const callback = provider.callback();
server.on('request', async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  const route = testRoutes[path];
  if (!route) {
    callback(req, res);
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, { error: 'method_not_allowed' });
    return;
  }
  try {
    const [status, body] = await route(await readParams(req));
    send(res, status, body);
  } catch (err) {
    console.error(`oidc-server: ${path} failed`, err);
    send(res, 500, { error: 'server_error', error_description: String(err?.message ?? err) });
  }
});

// Exit cleanly on SIGTERM (the Rust harness kills the whole process group with it).
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)).closeAllConnections());
}

console.log(`listening on ${issuer}`);
