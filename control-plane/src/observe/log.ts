// JSON logs on stderr. Secret values never reach a log call: objects passed here carry names only.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { svc: 'xds-ambassador' } }, pino.destination(2));
}
