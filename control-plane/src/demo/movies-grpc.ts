// A demo / test gRPC server of the Movies service (protos/xds_ambassador/demo/v1/movies.proto), on
// @grpc/grpc-js, in plaintext (h2c) or over TLS: GetMovie (unary) and ListMovies (server
// streaming). Every answer names the server (`served_by`); every call is recorded with what arrived
// (metadata, the deadline the client's grpc-timeout left); failures and latency can be injected.
// It serves gRPC reflection too, so grpcurl needs no .proto. moviesClient() makes a client of the
// same service, for tests and the recipes.
import * as grpc from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { buildDescriptorSet, MOVIES_SERVICE } from './descriptor-set.ts';

export interface Movie {
  id: number;
  title: string;
  year: number;
  genre: string;
  served_by?: string;
}

const CATALOGUE: readonly Movie[] = [
  { id: 1, title: 'Metropolis', year: 1927, genre: 'scifi' },
  { id: 2, title: 'Casablanca', year: 1942, genre: 'drama' },
  { id: 3, title: 'Seven Samurai', year: 1954, genre: 'action' },
  { id: 4, title: 'Solaris', year: 1972, genre: 'scifi' },
  { id: 5, title: 'Stalker', year: 1979, genre: 'scifi' },
  { id: 6, title: 'Paris, Texas', year: 1984, genre: 'drama' },
];

export interface MoviesCall {
  method: 'GetMovie' | 'ListMovies';
  request: Record<string, unknown>;
  /** Metadata (request headers) as received, keys lowercased; binary values left out. */
  metadata: Record<string, string>;
  /** Milliseconds left until the call's deadline when it arrived; null when it has none. */
  deadlineMs: number | null;
  /** The gRPC status code it ended with (0: OK). */
  code?: number;
}

export interface MoviesBehaviour {
  /** The next N calls fail with `failCode` (before any message). */
  failNext?: number;
  /** Default UNAVAILABLE (14). */
  failCode?: grpc.status;
  /** Delay before a unary answer, in ms. */
  delayMs?: number;
}

export interface MoviesServer {
  readonly name: string;
  readonly port: number;
  readonly calls: MoviesCall[];
  setBehaviour(b: MoviesBehaviour): void;
  /** Forgets the calls and restores normal behaviour. */
  reset(): void;
  close(): Promise<void>;
}

type MoviesClientCtor = grpc.ServiceClientConstructor;

let loaded: { definition: PackageDefinition; service: MoviesClientCtor } | undefined;
/** The Movies package definition and its client constructor (with the service definition), loaded once. */
function movies(): { definition: PackageDefinition; service: MoviesClientCtor } {
  if (!loaded) {
    const definition = loadFileDescriptorSetFromBuffer(Buffer.from(buildDescriptorSet()), { keepCase: true, longs: Number, enums: String, defaults: true });
    let node: unknown = grpc.loadPackageDefinition(definition);
    for (const part of MOVIES_SERVICE.split('.')) node = (node as Record<string, unknown>)[part];
    loaded = { definition, service: node as MoviesClientCtor };
  }
  return loaded;
}

export interface StartMoviesOptions {
  name: string;
  /** 0 (default): a free port. */
  port?: number;
  /** Serve over TLS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

export async function startMoviesServer(o: StartMoviesOptions): Promise<MoviesServer> {
  const calls: MoviesCall[] = [];
  let behaviour: MoviesBehaviour = {};
  const server = new grpc.Server();
  const record = (method: MoviesCall['method'], call: grpc.ServerUnaryCall<Record<string, unknown>, Movie> | grpc.ServerWritableStream<Record<string, unknown>, Movie>): MoviesCall => {
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') metadata[k] = v;
    const deadline = call.getDeadline();
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    const c: MoviesCall = { method, request: { ...call.request }, metadata, deadlineMs: Number.isFinite(at) ? Math.round(at - Date.now()) : null };
    calls.push(c);
    return c;
  };
  /** An injected failure for this call, if one is due. */
  const injected = (): grpc.status | undefined => {
    if (!behaviour.failNext) return undefined;
    behaviour = { ...behaviour, failNext: behaviour.failNext - 1 };
    return behaviour.failCode ?? grpc.status.UNAVAILABLE;
  };
  new ReflectionService(movies().definition).addToServer(server);
  server.addService(movies().service.service, {
    GetMovie(call: grpc.ServerUnaryCall<{ id: number }, Movie>, done: grpc.sendUnaryData<Movie>) {
      const c = record('GetMovie', call);
      const answer = () => {
        const code = injected();
        const movie = CATALOGUE.find((m) => m.id === call.request.id);
        c.code = code ?? (movie ? grpc.status.OK : grpc.status.NOT_FOUND);
        if (code !== undefined) done({ code, details: `injected failure from ${o.name}` });
        else if (!movie) done({ code: grpc.status.NOT_FOUND, details: `no movie with id ${call.request.id}` });
        else done(null, { ...movie, served_by: o.name });
      };
      if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
      else answer();
    },
    async ListMovies(call: grpc.ServerWritableStream<{ genre: string; limit: number; interval_ms: number }, Movie>) {
      const c = record('ListMovies', call);
      const code = injected();
      if (code !== undefined) {
        c.code = code;
        call.destroy(Object.assign(new Error(`injected failure from ${o.name}`), { code }));
        return;
      }
      const { genre, limit, interval_ms: interval } = call.request;
      const movies = CATALOGUE.filter((m) => !genre || m.genre === genre).slice(0, limit > 0 ? limit : undefined);
      for (const m of movies) {
        if (interval > 0) await new Promise((r) => setTimeout(r, interval));
        if (call.cancelled) {
          c.code = grpc.status.CANCELLED;
          return;
        }
        call.write({ ...m, served_by: o.name });
      }
      c.code = grpc.status.OK;
      call.end();
    },
  });
  const credentials = o.tls
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(o.tls.cert), private_key: Buffer.from(o.tls.key) }], false)
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${o.port ?? 0}`, credentials, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    name: o.name,
    port,
    calls,
    setBehaviour(b) {
      behaviour = { ...behaviour, ...b };
    },
    reset() {
      calls.length = 0;
      behaviour = {};
    },
    close: () => new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
      // Streams still open (a cancelled test) would hold tryShutdown forever.
      setTimeout(() => server.forceShutdown(), 1000).unref();
    }),
  };
}

export interface MoviesClient {
  getMovie(id: number, o?: { deadlineMs?: number; metadata?: Record<string, string> }): Promise<Movie>;
  /** Every movie of the stream, in order, with the time each arrived (ms since the call). */
  listMovies(request: { genre?: string; limit?: number; interval_ms?: number }, o?: { deadlineMs?: number }): Promise<{ movie: Movie; atMs: number }[]>;
  close(): void;
}

/** A client of the Movies service at `address` (host:port), plaintext (h2c) or TLS with `ca`. */
export function moviesClient(address: string, o: { ca?: string; serverName?: string } = {}): MoviesClient {
  const credentials = o.ca ? grpc.credentials.createSsl(Buffer.from(o.ca)) : grpc.credentials.createInsecure();
  const options = o.serverName ? { 'grpc.ssl_target_name_override': o.serverName } : {};
  const client = new (movies().service)(address, credentials, options) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  const callOptions = (deadlineMs?: number): grpc.CallOptions => (deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs });
  return {
    getMovie: (id, co = {}) => new Promise((resolve, reject) => {
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(co.metadata ?? {})) metadata.set(k, v);
      client.GetMovie?.({ id }, metadata, callOptions(co.deadlineMs), (err: grpc.ServiceError | null, movie: Movie) => (err ? reject(err) : resolve(movie)));
    }),
    listMovies: (request, co = {}) => new Promise((resolve, reject) => {
      const start = performance.now();
      const got: { movie: Movie; atMs: number }[] = [];
      const stream = client.ListMovies?.(request, callOptions(co.deadlineMs)) as grpc.ClientReadableStream<Movie>;
      stream.on('data', (movie: Movie) => got.push({ movie, atMs: performance.now() - start }));
      stream.on('error', (err) => reject(Object.assign(err, { received: got })));
      stream.on('end', () => resolve(got));
    }),
    close: () => client.close(),
  };
}
