// Verifies an ID token the way PingOne's custom sign-on sample does (its
// react-auth-client/src/sdk/jwt_verifier.js, described, not copied): discovery -> jwks_uri ->
// for each key, a PEM certificate made from x5c[0] (64-character lines) and
// jsonwebtoken.verify(token, certificate, options); the first key that verifies wins.
//
//   node tests/node/jwt_verifier.mjs ISSUER TOKEN AUDIENCE
// prints the verified payload as JSON, or exits 1 with the reason.
import jwt from 'jsonwebtoken';

const [issuer, token, audience] = process.argv.slice(2);

function certificate(x5c0) {
  return ['-----BEGIN CERTIFICATE-----', ...x5c0.match(/.{1,64}/g), '-----END CERTIFICATE-----'].join('\n');
}

const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const { keys } = await (await fetch(discovery.jwks_uri)).json();
const errors = [];
for (const key of keys) {
  try {
    if (!key.x5c || !key.x5c[0]) throw new Error(`key ${key.kid} has no x5c`);
    const payload = jwt.verify(token, certificate(key.x5c[0]), { issuer, audience, algorithms: ['RS256'] });
    console.log(JSON.stringify(payload));
    process.exit(0);
  } catch (e) {
    errors.push(e.message);
  }
}
console.error(`Id token verification failed: ${errors.join('; ')}`);
process.exit(1);
