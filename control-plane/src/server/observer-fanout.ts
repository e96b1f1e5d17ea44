// One XdsObserver that tells several: logs and metrics, the client status registry (CSDS), the
// convergence histogram. Each hears every event in order.
import type { XdsObserver } from './observer.ts';

export function fanOut(...observers: XdsObserver[]): XdsObserver {
  return {
    streamOpened: (s) => { for (const o of observers) o.streamOpened(s); },
    streamClosed: (s, reason) => { for (const o of observers) o.streamClosed(s, reason); },
    streamRefused: (r) => { for (const o of observers) o.streamRefused(r); },
    responseSent: (s, type, version, resources, delta) => { for (const o of observers) o.responseSent(s, type, version, resources, delta); },
    ack: (s, type, version) => { for (const o of observers) o.ack(s, type, version); },
    nack: (s, type, version, message, origins, outcome) => { for (const o of observers) o.nack(s, type, version, message, origins, outcome); },
    staleNonce: (s, type) => { for (const o of observers) o.staleNonce(s, type); },
    unknownType: (s, type) => { for (const o of observers) o.unknownType(s, type); },
  };
}
