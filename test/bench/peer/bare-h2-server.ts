// A bare Node HTTP/2 server over TLS with client certificates, as the control plane's xDS port is,
// but with nothing else: what Node itself holds per connection (node-floor.bench.ts). Prints its
// port; every stream is answered with headers and left open, as an idle ADS stream is. Without
// arguments: plaintext HTTP/2 (h2c), to tell TLS's part from HTTP/2's.
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';

const [cert, key, ca] = process.argv.slice(2);
const server = cert && key && ca
  ? http2.createSecureServer({ cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true })
  : http2.createServer();
server.on('stream', (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc' }));
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
});
