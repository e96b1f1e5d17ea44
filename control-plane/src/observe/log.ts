// JSON logs on stderr. Secret values never reach a log call: objects passed here carry names only.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  // Asynchronous: a burst of lines (a thousand Envoys connecting) goes out in a few writes instead of
  // one system call each; pino flushes what is left when the process exits. Bounded: while stderr is
  // not read, lines past 16 MiB are dropped rather than kept.
  return pino({ level, base: { svc: 'xds-ambassador' } }, pino.destination({ dest: 2, sync: false, maxLength: 16 * 2 ** 20 }));
}
