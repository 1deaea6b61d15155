// A syntactically valid (unsigned-for-real) JWT for stub servers and injected fetches: the
// package may read `exp` to refresh early, so it gets a real one.
export function fakeJwt({ sub = 'bench_worker', role = 'service', ttlSeconds = 86400 } = {}) {
  const enc = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub, role, iat: now, exp: now + ttlSeconds, token_type: 'access' })}.${Buffer.from('bench-signature').toString('base64url')}`;
}
