// The peer of the benchmark: go-control-plane's SotW/ADS server and snapshot cache, serving the
// resources this project's pipeline produced (a JSON dump of their encoded google.protobuf.Any
// bytes, written by test/bench/peer/dump.ts), one snapshot per node group, with the same per-type
// versions. Built by test/bench/peer/build.sh into a cache folder; never part of the repository's
// module graph.
//
// Usage: gcp-server -dump FILE [-typed] [-tls-cert F -tls-key F -client-ca F | -insecure]
//
// By default each resource is given to go-control-plane as a message holding exactly the dumped
// bytes (every field kept as an unknown field, so its deterministic re-encoding for every response
// gives those bytes back): both servers send byte-identical resources. With -typed, go-control-plane
// gets the typed Envoy messages, as its users give them, and sends its own (equal) encoding: Go
// orders a oneof's fields where the oneof is declared, protobufjs by field number.
//
// Prints "listening PORT" and the resource check on stdout, then reads commands on stdin, one a line:
//
//	set GROUP STATE   SetSnapshot(GROUP, STATE of the dump); answers "ok" once it returned
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	server "github.com/envoyproxy/go-control-plane/pkg/server/v3"

	// The resource types of the dump, registered for anypb.UnmarshalNew.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// dumpState is one group's resources in one state ("A", "B", ...), as dump.ts writes it.
type dumpState struct {
	Group string     `json:"group"`
	State string     `json:"state"`
	Types []dumpType `json:"types"`
}

type dumpType struct {
	TypeURL   string   `json:"typeUrl"`
	Version   string   `json:"version"`
	Resources [][]byte `json:"resources"` // encoded google.protobuf.Any, base64 in the JSON
}

// groupHash puts an Envoy in the group "namespace/ambassador" as the project does: node.cluster is
// the ambassador, node.metadata.namespace its namespace.
type groupHash struct{}

func (groupHash) ID(node *core.Node) string {
	ns := "default"
	if v, ok := node.GetMetadata().GetFields()["namespace"]; ok && v.GetStringValue() != "" {
		ns = v.GetStringValue()
	}
	return ns + "/" + node.GetCluster()
}

func main() {
	dumpFile := flag.String("dump", "", "resources dumped by dump.ts (JSON)")
	certFile := flag.String("tls-cert", "", "server certificate (PEM)")
	keyFile := flag.String("tls-key", "", "server key (PEM)")
	caFile := flag.String("client-ca", "", "CA of the client certificates, which are required")
	insecure := flag.Bool("insecure", false, "plaintext, no client certificates")
	typed := flag.Bool("typed", false, "serve typed messages (re-encoded by go-control-plane) instead of the dumped bytes")
	flag.Parse()
	if *dumpFile == "" || (*insecure == (*certFile != "")) {
		fail("usage: gcp-server -dump FILE (-tls-cert F -tls-key F -client-ca F | -insecure)")
	}

	snapshots, identical, total := load(*dumpFile, *typed)
	snapCache := cache.NewSnapshotCache(true, groupHash{}, nil)
	ctx := context.Background()
	// Every group starts in its first state (the one listed first in the dump).
	for group, states := range snapshots {
		if err := snapCache.SetSnapshot(ctx, group, states.first); err != nil {
			fail("SetSnapshot: %v", err)
		}
	}

	opts := []grpc.ServerOption{
		grpc.MaxConcurrentStreams(1 << 20),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	}
	if !*insecure {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig(*certFile, *keyFile, *caFile))))
	}
	grpcServer := grpc.NewServer(opts...)
	xds := server.NewServer(ctx, snapCache, server.CallbackFuncs{})
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(grpcServer, xds)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	go func() {
		if err := grpcServer.Serve(lis); err != nil {
			fail("serve: %v", err)
		}
	}()
	fmt.Printf("resources %d, sent byte-identical %d\n", total, identical)
	fmt.Printf("listening %d\n", lis.Addr().(*net.TCPAddr).Port)

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 3 || f[0] != "set" {
			fmt.Printf("error: unknown command %q\n", in.Text())
			continue
		}
		s, ok := snapshots[f[1]].byState[f[2]]
		if !ok {
			fmt.Printf("error: no state %s of group %s\n", f[2], f[1])
			continue
		}
		if err := snapCache.SetSnapshot(ctx, f[1], s); err != nil {
			fmt.Printf("error: %v\n", err)
			continue
		}
		fmt.Println("ok")
	}
	grpcServer.Stop()
}

type groupStates struct {
	first   *cache.Snapshot
	byState map[string]*cache.Snapshot
}

// rawResource is a resource as its encoded bytes: a message of no known field, whose unknown fields
// (all of them, in their order) go back on the wire unchanged; named for go-control-plane.
type rawResource struct {
	*dynamicpb.Message
	name string
}

func (r rawResource) GetName() string { return r.name }

var noFields = (&emptypb.Empty{}).ProtoReflect().Descriptor()

// load reads the dump into snapshots, and counts the resources whose bytes go-control-plane sends
// unchanged (it encodes every resource again, deterministically, for every response).
func load(file string, typed bool) (map[string]*groupStates, int, int) {
	raw, err := os.ReadFile(file)
	if err != nil {
		fail("read %s: %v", file, err)
	}
	var states []dumpState
	if err := json.Unmarshal(raw, &states); err != nil {
		fail("parse %s: %v", file, err)
	}
	out := map[string]*groupStates{}
	identical, total := 0, 0
	for _, st := range states {
		snap := &cache.Snapshot{}
		for _, t := range st.Types {
			items := make([]types.Resource, 0, len(t.Resources))
			for _, b := range t.Resources {
				a := &anypb.Any{}
				if err := proto.Unmarshal(b, a); err != nil {
					fail("%s %s: Any: %v", st.Group, t.TypeURL, err)
				}
				if a.GetTypeUrl() != t.TypeURL {
					fail("%s: a %s among %s", st.Group, a.GetTypeUrl(), t.TypeURL)
				}
				m, err := a.UnmarshalNew()
				if err != nil {
					fail("%s %s: %v", st.Group, t.TypeURL, err)
				}
				again, err := cache.MarshalResource(m)
				if err != nil {
					fail("%s %s: marshal: %v", st.Group, t.TypeURL, err)
				}
				var r types.Resource = m
				if !typed {
					raw := dynamicpb.NewMessage(noFields)
					if err := proto.Unmarshal(a.GetValue(), raw); err != nil {
						fail("%s %s: %v", st.Group, t.TypeURL, err)
					}
					r = rawResource{Message: raw, name: cache.GetResourceName(m)}
					if again, err = cache.MarshalResource(r); err != nil {
						fail("%s %s: marshal: %v", st.Group, t.TypeURL, err)
					}
				}
				total++
				if string(again) == string(a.GetValue()) {
					identical++
				}
				items = append(items, r)
			}
			idx := cache.GetResponseType(t.TypeURL)
			if idx == types.UnknownType {
				fail("unknown type %s", t.TypeURL)
			}
			snap.Resources[idx] = cache.NewResources(t.Version, items)
		}
		g := out[st.Group]
		if g == nil {
			g = &groupStates{first: snap, byState: map[string]*cache.Snapshot{}}
			out[st.Group] = g
		}
		g.byState[st.State] = snap
	}
	return out, identical, total
}

func tlsConfig(certFile, keyFile, caFile string) *tls.Config {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		fail("server certificate: %v", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		fail("client CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fail("client CA: no certificate in %s", caFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gcp-server: "+format+"\n", args...)
	os.Exit(1)
}
