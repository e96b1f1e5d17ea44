// Prometheus metrics, in a registry of our own so that tests can run several control planes.
import client from 'prom-client';
import { REFUSAL_REASONS } from '../server/auth/identity.ts';

export class Metrics {
  readonly registry = new client.Registry();
  readonly streams = new client.Gauge({ name: 'xds_ambassador_streams', help: 'Open ADS streams', registers: [this.registry] });
  readonly responses = new client.Counter({ name: 'xds_ambassador_responses_total', help: 'DiscoveryResponses sent', labelNames: ['type'], registers: [this.registry] });
  readonly resourcesSent = new client.Counter({ name: 'xds_ambassador_resources_sent_total', help: 'Resources sent in DiscoveryResponses (a Delta response carries only those that changed)', labelNames: ['type'], registers: [this.registry] });
  readonly acks = new client.Counter({ name: 'xds_ambassador_acks_total', help: 'DiscoveryResponses ACKed by Envoy', labelNames: ['type'], registers: [this.registry] });
  /** `group` is a configured node group, or "unconfigured" (a client cannot mint label values). */
  readonly nacks = new client.Counter({ name: 'xds_ambassador_nacks_total', help: 'DiscoveryResponses rejected (NACKed) by Envoy', labelNames: ['type', 'group'], registers: [this.registry] });
  readonly refusals = new client.Counter({ name: 'xds_ambassador_stream_refusals_total', help: 'ADS streams refused before any response, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly staleNonces = new client.Counter({ name: 'xds_ambassador_stale_nonces_total', help: 'Requests ignored for a stale nonce', labelNames: ['type'], registers: [this.registry] });
  readonly configErrors = new client.Gauge({ name: 'xds_ambassador_config_errors', help: 'Inputs currently rejected by validation (their last good version is served)', registers: [this.registry] });
  readonly snapshots = new client.Counter({ name: 'xds_ambassador_snapshots_total', help: 'Snapshots published', registers: [this.registry] });
  readonly groups = new client.Gauge({ name: 'xds_ambassador_groups', help: 'Node groups with a snapshot', registers: [this.registry] });
  readonly heldGroups = new client.Gauge({ name: 'xds_ambassador_held_groups', help: 'Node groups whose Envoys (some or all) get no response and keep the config they have (see /debug/status "held")', registers: [this.registry] });
  /** `type` is one of CDS, EDS, SDS, LDS, RDS: bounded. */
  readonly convergence = new client.Histogram({
    name: 'xds_ambassador_proxy_convergence_seconds',
    help: 'Time from the publication of a new version of a type for a group to each connected Envoy\'s ACK of it, by type (like Istio\'s pilot_proxy_convergence_time)',
    labelNames: ['type'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly buildSeconds = new client.Histogram({ name: 'xds_ambassador_build_seconds', help: 'Time from a source change to published snapshots', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [this.registry] });

  constructor() {
    for (const reason of REFUSAL_REASONS) this.refusals.inc({ reason }, 0);
  }
}
