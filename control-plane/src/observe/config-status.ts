// Where users see whether their config is live. Kubernetes users look at Events on the ConfigMap
// (`kubectl describe configmap`); the directory source has the log and /debug/status only.
export interface ConfigStatusSink {
  /** The ConfigMap's current content is what its ambassador's Envoys are served (snapshot version).
   * `uid`, here and below: the ConfigMap's, when the source knows it. */
  accepted(configMap: string, ambassador: string, version: string, uid?: string): void;
  /** The ConfigMap's current content is invalid; its last good version stays served. */
  rejected(configMap: string, errors: readonly string[], uid?: string): void;
  /** An Envoy rejected the config built from the ConfigMap. */
  nacked(configMap: string, nodeId: string, type: string, message: string): void;
}
