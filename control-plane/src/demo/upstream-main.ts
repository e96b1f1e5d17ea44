// Runs one demo upstream until SIGTERM / SIGINT:
//   node control-plane/src/demo/upstream-main.ts --name v1 --port 9001
// Prints "upstream <name> listening on 127.0.0.1:<port>" once it accepts connections
// (--port 0 or no --port: a free port, read it from that line). --delay-ms delays every answer.
import { parseArgs } from 'node:util';
import { startUpstream } from './upstream.ts';

const usage = 'usage: upstream-main.ts --name NAME [--port PORT] [--delay-ms MS]';

function fail(message: string): never {
  console.error(`upstream: ${message}\n${usage}`);
  process.exit(2);
}

let values: { name?: string | undefined; port?: string | undefined; 'delay-ms'?: string | undefined };
try {
  ({ values } = parseArgs({
    options: {
      name: { type: 'string' },
      port: { type: 'string' },
      'delay-ms': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

const toInt = (text: string | undefined, what: string, max: number): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > max) fail(`${what} must be an integer from 0 to ${max}, got "${text}"`);
  return n;
};

const name = values.name;
if (!name) fail('--name is required');
const port = toInt(values.port, '--port', 65535) ?? 0;
const delayMs = toInt(values['delay-ms'], '--delay-ms', 600_000);

const upstream = await startUpstream({ name, port, host: '127.0.0.1' });
if (delayMs !== undefined) upstream.setBehaviour({ delayMs });
console.log(`upstream ${name} listening on 127.0.0.1:${upstream.port}`);

let stopping = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  upstream.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`upstream ${name}: error while closing after ${signal}:`, error);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
