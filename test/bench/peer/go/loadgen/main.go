// The benchmark's load generator: many Envoys speaking State-of-the-World ADS, each on its own gRPC
// connection, behaving as Envoy does on the wire (node on the first request only; CDS first; EDS
// subscribed to the clusters CDS names, the CDS ACK held until their endpoints arrived; then LDS; RDS
// subscribed to the route configs the listeners name; every response ACKed). It measures what a
// control plane does for them; the same binary drives this project and go-control-plane.
//
// Usage: loadgen -addr HOST:PORT [-ca F -cert F -key F -server-name NAME | -insecure]
//
// Commands arrive on stdin and answers leave on stdout, one JSON object a line:
//
//	{"op":"open","n":N,"groups":["ns/amb",...]}   N streams at once (stream i in groups[i % len]);
//	    answers when all have synced (every type ACKed once): {"op":"open","ms":..,"synced":..,"failed":..,
//	    "digests":{group: hex},"canonical":{group: hex}} (of what one stream of each group has: bytes as
//	    received, and as Go encodes the same messages)
//	{"op":"mark","group":G,"expect":{typeUrl: version}}   from now on, time group G's streams until
//	    each has ACKed those versions: {"op":"marked"} at once, then {"op":"converged","firstMs":..,"ms":[..],"others":..}
//	    (firstMs: the first response carrying one of them; others: responses other groups' streams got)
//	{"op":"closeAll"}   closes every stream: {"op":"closed"}
//	{"op":"churn","seconds":S,"workers":W,"group":G,"cycles":C}   W loops of open → synced → close for
//	    S seconds, or until C cycles are done (0: no limit):
//	    {"op":"churn","cycles":..,"seconds":..,"failed":..}
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

const (
	cds = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	eds = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	lds = "type.googleapis.com/envoy.config.listener.v3.Listener"
	rds = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
)

var syncTypes = []string{cds, eds, lds, rds}

type command struct {
	Op      string            `json:"op"`
	N       int               `json:"n"`
	Groups  []string          `json:"groups"`
	Group   string            `json:"group"`
	Expect  map[string]string `json:"expect"`
	Seconds float64           `json:"seconds"`
	Workers int               `json:"workers"`
	Cycles  int64             `json:"cycles"`
}

var (
	addr  string
	creds credentials.TransportCredentials
	out   = json.NewEncoder(os.Stdout)
	outMu sync.Mutex
	ids   atomic.Int64
	trk   tracker
)

func say(v any) {
	outMu.Lock()
	defer outMu.Unlock()
	_ = out.Encode(v)
}

func main() {
	flag.StringVar(&addr, "addr", "", "the control plane's xDS address")
	caFile := flag.String("ca", "", "CA of the server certificate")
	certFile := flag.String("cert", "", "client certificate")
	keyFile := flag.String("key", "", "client key")
	serverName := flag.String("server-name", "localhost", "name checked in the server certificate")
	plain := flag.Bool("insecure", false, "plaintext")
	flag.Parse()
	if addr == "" || (*plain == (*certFile != "")) {
		fmt.Fprintln(os.Stderr, "usage: loadgen -addr HOST:PORT (-ca F -cert F -key F | -insecure)")
		os.Exit(2)
	}
	if *plain {
		creds = insecure.NewCredentials()
	} else {
		creds = tlsCreds(*caFile, *certFile, *keyFile, *serverName)
	}

	var open []*stream
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var c command
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			say(map[string]string{"op": "error", "error": err.Error()})
			continue
		}
		switch c.Op {
		case "open":
			streams, res := openMany(c.N, c.Groups)
			open = append(open, streams...)
			say(res)
		case "mark":
			var members []*stream
			for _, s := range open {
				if s.group == c.Group {
					members = append(members, s)
				}
			}
			done := trk.start(c.Group, c.Expect, len(members))
			say(map[string]string{"op": "marked"})
			go func() { say(<-done) }()
		case "closeAll":
			for _, s := range open {
				s.close()
			}
			open = nil
			say(map[string]string{"op": "closed"})
		case "churn":
			say(churn(c.Seconds, c.Workers, c.Group, c.Cycles))
		default:
			say(map[string]string{"op": "error", "error": "unknown op " + c.Op})
		}
	}
}

func tlsCreds(caFile, certFile, keyFile, serverName string) credentials.TransportCredentials {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: client certificate:", err)
		os.Exit(1)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: CA:", err)
		os.Exit(1)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: serverName, MinVersion: tls.VersionTLS12})
}

// ---- one Envoy ----------------------------------------------------------------------------------

type stream struct {
	group  string
	nodeID string
	keep   bool // keeps the latest resources of each type, for the digest
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	call   discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient

	acked   map[string]string
	nonce   map[string]string
	sub     map[string][]string
	held    *discovery.DiscoveryResponse // the CDS response whose ACK waits for its endpoints
	ldsSent bool
	kept    map[string][][]byte
	synced  chan struct{}
	errMu   sync.Mutex
	err     error
}

func (s *stream) fail(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *stream) failure() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func newStream(group string, keep bool) *stream {
	return &stream{
		group: group, nodeID: fmt.Sprintf("loadgen-%d", ids.Add(1)), keep: keep,
		acked: map[string]string{}, nonce: map[string]string{}, sub: map[string][]string{}, kept: map[string][][]byte{},
		synced: make(chan struct{}),
	}
}

// start connects (its own connection) and speaks ADS in a goroutine until the stream ends; synced
// is closed once every type was ACKed, or when the stream failed first (failure() says why).
func (s *stream) start() {
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		s.fail(err)
		close(s.synced)
		return
	}
	s.conn = conn
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(ctx)
}

func (s *stream) run(ctx context.Context) {
	defer func() {
		select {
		case <-s.synced:
		default:
			close(s.synced)
		}
	}()
	ns, amb, _ := strings.Cut(s.group, "/")
	call, err := discovery.NewAggregatedDiscoveryServiceClient(s.conn).StreamAggregatedResources(ctx)
	if err != nil {
		s.fail(err)
		return
	}
	s.call = call
	md, _ := structpb.NewStruct(map[string]any{"namespace": ns})
	node := &core.Node{Id: s.nodeID, Cluster: amb, Metadata: md}
	if err := call.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: cds}); err != nil {
		s.fail(err)
		return
	}
	for {
		resp, err := call.Recv()
		if err == nil {
			err = s.handle(resp)
		}
		if err != nil {
			s.fail(err)
			return
		}
	}
}

func (s *stream) handle(r *discovery.DiscoveryResponse) error {
	trk.response(s, r.TypeUrl, r.VersionInfo)
	if s.keep {
		kept := make([][]byte, 0, len(r.Resources))
		for _, a := range r.Resources {
			b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(a)
			kept = append(kept, b)
		}
		s.kept[r.TypeUrl] = kept
	}
	s.nonce[r.TypeUrl] = r.Nonce
	switch r.TypeUrl {
	case cds:
		names, err := edsNames(r.Resources)
		if err != nil {
			return err
		}
		if !slices.Equal(names, s.sub[eds]) {
			// New clusters warm on their endpoints: Envoy asks for them and ACKs CDS once they came.
			s.sub[eds] = names
			s.held = r
			return s.request(eds, s.acked[eds])
		}
		return s.ack(r)
	case eds:
		if err := s.ack(r); err != nil {
			return err
		}
		if held := s.held; held != nil {
			s.held = nil
			if err := s.ack(held); err != nil {
				return err
			}
		}
		if !s.ldsSent {
			s.ldsSent = true // Envoy starts LDS once its clusters are initialized
			return s.request(lds, "")
		}
		return nil
	case lds:
		names, err := rdsNames(r.Resources)
		if err != nil {
			return err
		}
		if !slices.Equal(names, s.sub[rds]) {
			s.sub[rds] = names
			if err := s.request(rds, s.acked[rds]); err != nil {
				return err
			}
		}
		return s.ack(r)
	default:
		return s.ack(r)
	}
}

func (s *stream) request(typeURL, version string) error {
	return s.call.Send(&discovery.DiscoveryRequest{TypeUrl: typeURL, VersionInfo: version, ResponseNonce: s.nonce[typeURL], ResourceNames: s.sub[typeURL]})
}

func (s *stream) ack(r *discovery.DiscoveryResponse) error {
	if err := s.call.Send(&discovery.DiscoveryRequest{TypeUrl: r.TypeUrl, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce, ResourceNames: s.sub[r.TypeUrl]}); err != nil {
		return err
	}
	s.acked[r.TypeUrl] = r.VersionInfo
	trk.ack(s, r.TypeUrl, r.VersionInfo)
	for _, t := range syncTypes {
		if _, ok := s.acked[t]; !ok {
			return nil
		}
	}
	select {
	case <-s.synced:
	default:
		close(s.synced)
	}
	return nil
}

func (s *stream) close() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.conn != nil {
		_ = s.conn.Close()
	}
}

// digest hashes the versions and resources (sorted) of every type; canonical: each resource decoded
// and encoded again by Go, so that two encodings of equal messages give the same digest.
func (s *stream) digest(canonical bool) string {
	h := sha256.New()
	for _, t := range syncTypes {
		rs := slices.Clone(s.kept[t])
		if canonical {
			for i, r := range rs {
				rs[i] = canonicalBytes(r)
			}
		}
		slices.SortFunc(rs, func(a, b []byte) int { return strings.Compare(string(a), string(b)) })
		fmt.Fprintf(h, "%s %s %d\n", t, s.acked[t], len(rs))
		for _, r := range rs {
			h.Write(r)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func canonicalBytes(anyBytes []byte) []byte {
	a := &anypb.Any{}
	if err := proto.Unmarshal(anyBytes, a); err != nil {
		return anyBytes
	}
	m, err := a.UnmarshalNew()
	if err != nil {
		return anyBytes
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return anyBytes
	}
	return b
}

func edsNames(resources []*anypb.Any) ([]string, error) {
	var names []string
	for _, a := range resources {
		c := &cluster.Cluster{}
		if err := a.UnmarshalTo(c); err != nil {
			return nil, err
		}
		if c.GetType() != cluster.Cluster_EDS {
			continue
		}
		n := c.GetEdsClusterConfig().GetServiceName()
		if n == "" {
			n = c.GetName()
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return slices.Compact(names), nil
}

func rdsNames(resources []*anypb.Any) ([]string, error) {
	var names []string
	for _, a := range resources {
		l := &listener.Listener{}
		if err := a.UnmarshalTo(l); err != nil {
			return nil, err
		}
		chains := l.GetFilterChains()
		if l.GetDefaultFilterChain() != nil {
			chains = append(chains, l.GetDefaultFilterChain())
		}
		for _, fc := range chains {
			for _, f := range fc.GetFilters() {
				m := &hcm.HttpConnectionManager{}
				if f.GetTypedConfig().MessageIs(m) {
					if err := f.GetTypedConfig().UnmarshalTo(m); err != nil {
						return nil, err
					}
					if n := m.GetRds().GetRouteConfigName(); n != "" {
						names = append(names, n)
					}
				}
			}
		}
	}
	sort.Strings(names)
	return slices.Compact(names), nil
}

// ---- commands -----------------------------------------------------------------------------------

func openMany(n int, groups []string) ([]*stream, map[string]any) {
	streams := make([]*stream, n)
	seen := map[string]bool{}
	for i := range streams {
		g := groups[i%len(groups)]
		streams[i] = newStream(g, !seen[g])
		seen[g] = true
	}
	t0 := time.Now()
	for _, s := range streams {
		s.start()
	}
	deadline := time.After(120 * time.Second)
	synced, failed := 0, 0
	var errs []string
	var last time.Duration
	for _, s := range streams {
		select {
		case <-s.synced:
		case <-deadline:
		}
		if d := time.Since(t0); d > last {
			last = d
		}
		if err := s.failure(); err != nil || !isClosed(s.synced) {
			failed++
			if len(errs) < 3 {
				errs = append(errs, fmt.Sprint(err))
			}
		} else {
			synced++
		}
	}
	digests, canonical := map[string]string{}, map[string]string{}
	for _, s := range streams {
		if s.keep && s.failure() == nil {
			digests[s.group] = s.digest(false)
			canonical[s.group] = s.digest(true)
		}
	}
	return streams, map[string]any{"op": "open", "ms": ms(last), "synced": synced, "failed": failed, "errors": errs, "digests": digests, "canonical": canonical}
}

func churn(seconds float64, workers int, group string, limit int64) map[string]any {
	var cycles, failed atomic.Int64
	end := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	t0 := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && (limit == 0 || cycles.Load()+failed.Load() < limit) {
				s := newStream(group, false)
				s.start()
				select {
				case <-s.synced:
				case <-time.After(30 * time.Second):
				}
				if s.failure() != nil || !isClosed(s.synced) {
					failed.Add(1)
				} else {
					cycles.Add(1)
				}
				s.close()
			}
		}()
	}
	wg.Wait()
	return map[string]any{"op": "churn", "cycles": cycles.Load(), "seconds": time.Since(t0).Seconds(), "failed": failed.Load()}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ---- measuring a change -------------------------------------------------------------------------

type tracker struct {
	mu sync.Mutex
	m  *measure
}

type measure struct {
	t0        time.Time
	group     string
	expect    map[string]string
	first     time.Duration
	remaining map[*stream]map[string]bool // the expected types each stream has ACKed
	converged []float64
	others    int
	total     int
	done      chan map[string]any
	timer     *time.Timer
}

func (t *tracker) start(group string, expect map[string]string, members int) chan map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := &measure{t0: time.Now(), group: group, expect: expect, first: -1, remaining: map[*stream]map[string]bool{}, total: members, done: make(chan map[string]any, 1)}
	t.m = m
	if members == 0 {
		t.finish()
		return m.done
	}
	m.timer = time.AfterFunc(20*time.Second, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.m == m {
			t.finish()
		}
	})
	return m.done
}

// finish reports the measure (with the mutex held).
func (t *tracker) finish() {
	m := t.m
	t.m = nil
	if m.timer != nil {
		m.timer.Stop()
	}
	sort.Float64s(m.converged)
	m.done <- map[string]any{"op": "converged", "firstMs": ms(m.first), "ms": m.converged, "streams": m.total, "others": m.others}
}

func (t *tracker) response(s *stream, typeURL, version string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.m
	if m == nil {
		return
	}
	if s.group != m.group {
		m.others++
		return
	}
	if m.first < 0 && m.expect[typeURL] == version {
		m.first = time.Since(m.t0)
	}
}

func (t *tracker) ack(s *stream, typeURL, version string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.m
	if m == nil || s.group != m.group || m.expect[typeURL] != version {
		return
	}
	done := m.remaining[s]
	if done == nil {
		done = map[string]bool{}
		m.remaining[s] = done
	}
	if done[typeURL] {
		return
	}
	done[typeURL] = true
	if len(done) == len(m.expect) {
		m.converged = append(m.converged, ms(time.Since(m.t0)))
		if len(m.converged) == m.total {
			t.finish()
		}
	}
}
