// Command pstest runs Google's in-memory Pub/Sub fake (cloud.google.com/go/pubsub/v2/pstest)
// as a standalone gRPC server, for tests that talk to it through PUBSUB_EMULATOR_HOST.
//
// Usage:
//
//	pstest [-host 127.0.0.1] [-port 8085] [-min-ack-deadline 10s]
//
// The port may also come from $PSTEST_PORT (the flag wins). Port 0 picks a free port.
// -min-ack-deadline is the smallest ackDeadlineSeconds a subscription may have. Real
// Pub/Sub refuses less than 10 s; pstest on its own accepts any value (its minimum is 0
// until set), so the default here is 10s. Tests that want fast ack-deadline redelivery
// can pass e.g. -min-ack-deadline 1s and create subscriptions with ackDeadlineSeconds: 1.
// Once the server accepts connections it prints exactly one line to stdout:
//
//	pstest listening on 127.0.0.1:PORT
//
// SIGTERM or SIGINT stops it and it exits with status 0.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func main() {
	defaultPort := 8085
	if v := os.Getenv("PSTEST_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			fmt.Fprintf(os.Stderr, "pstest: invalid PSTEST_PORT %q\n", v)
			os.Exit(2)
		}
		defaultPort = p
	}
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", defaultPort, "TCP port to listen on (0 = pick a free port); default from $PSTEST_PORT or 8085")
	minAck := flag.Duration("min-ack-deadline", 10*time.Second, "smallest ackDeadlineSeconds accepted for a subscription (>= 1s)")
	flag.Parse()
	if *minAck < time.Second {
		fmt.Fprintf(os.Stderr, "pstest: -min-ack-deadline must be >= 1s, got %v\n", *minAck)
		os.Exit(2)
	}
	pstest.SetMinAckDeadline(*minAck)
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "pstest: invalid -port %d\n", *port)
		os.Exit(2)
	}

	// Listen first ourselves so that a busy port is a clean error rather than a panic
	// inside pstest; then hand the (released) address to pstest. For port 0 we keep the
	// kernel-chosen port.
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pstest: cannot listen on %s: %v\n", addr, err)
		os.Exit(1)
	}
	addr = ln.Addr().String()
	ln.Close()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	srv := pstest.NewServerWithAddress(addr)
	// pstest has started serving once NewServerWithAddress returns.
	fmt.Printf("pstest listening on %s\n", srv.Addr)

	<-sigs
	_ = srv.Close()
	os.Exit(0)
}
