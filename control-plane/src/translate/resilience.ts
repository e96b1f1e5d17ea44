// Circuit breakers, outlier detection and active health checks of a cluster.
import type { UpstreamConfig } from '../model/schema.ts';
import { duration } from './duration.ts';
import type { JsonObject } from './types.ts';

const wrap = (n: number | undefined) => (n === undefined ? undefined : { value: n });

export function resilience(u: UpstreamConfig): JsonObject {
  const out: JsonObject = {};
  const cb = u.circuitBreaker;
  if (cb) {
    const limits = Object.entries({
      max_connections: wrap(cb.maxConnections),
      max_pending_requests: wrap(cb.maxPendingRequests),
      max_requests: wrap(cb.maxRequests),
      max_retries: wrap(cb.maxRetries),
    }).filter((e): e is [string, { value: number }] => e[1] !== undefined);
    out.circuit_breakers = { thresholds: [{ priority: 'DEFAULT', ...Object.fromEntries(limits) }] };
  }
  const od = u.outlierDetection;
  if (od) {
    out.outlier_detection = {
      consecutive_5xx: { value: od.consecutive5xx },
      interval: duration(od.interval),
      base_ejection_time: duration(od.baseEjectionTime),
      max_ejection_percent: { value: od.maxEjectionPercent },
    };
  }
  const hc = u.healthCheck;
  if (hc) {
    out.health_checks = [{
      timeout: duration(hc.timeout),
      interval: duration(hc.interval),
      unhealthy_threshold: { value: hc.unhealthyThreshold },
      healthy_threshold: { value: hc.healthyThreshold },
      ...(hc.path !== undefined ? { http_health_check: { path: hc.path } } : { tcp_health_check: {} }),
    }];
  }
  return out;
}
