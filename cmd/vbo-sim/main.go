// Command vbo-sim runs one or more simulated Veeam Backup for Microsoft 365 REST API servers
// (see package upstream/vbosim and docs/vbo-sim.md).
//
//	go run ./cmd/vbo-sim --listen 127.0.0.1:4443 --servers 3 --sessions 2000
//	go run ./cmd/vbo-sim --listen 127.0.0.1:0 --names syd1,mel1,akl1 --seed 20261125 --seed-step 1 --now 2026-03-02T10:00:00Z
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/upstream/vbosim"
)

type config struct {
	listen, apiVersion, username, password string
	seed, seedStep                         int64
	names                                  []string
	now                                    time.Time // data anchor; zero: start time
	orgs, sessions, servers, maxEvents     int
	restoreIdle                            time.Duration
	maxRestoreSessions                     int
	latency, jitter, tokenLifetime         time.Duration
	errorRate                              float64
	tls                                    bool
}

func main() {
	var c config
	flag.StringVar(&c.listen, "listen", "127.0.0.1:4443", "listen address of the first server; server i listens on port+i-1 (port 0: random ports)")
	flag.StringVar(&c.apiVersion, "api-version", "v6", "API version to serve: v6, v7 or v8")
	flag.StringVar(&c.username, "username", "admin", "accepted user name")
	flag.StringVar(&c.password, "password", "password", "accepted password")
	flag.Int64Var(&c.seed, "seed", 1, "data seed (combined with the server name sim1..simN)")
	flag.IntVar(&c.orgs, "orgs", 8, "organisations per server")
	flag.IntVar(&c.sessions, "sessions", 400, "restore sessions per server (spread over the last 90 days)")
	flag.IntVar(&c.maxEvents, "max-events", 60, "maximum generated events per session")
	flag.DurationVar(&c.restoreIdle, "restore-idle-timeout", 30*time.Minute, "a restore session opened by explore closes after this long without requests")
	flag.IntVar(&c.maxRestoreSessions, "max-restore-sessions", 10, "restore sessions open at once per server; explore past it answers 400")
	flag.IntVar(&c.servers, "servers", 1, "number of independent servers on consecutive ports")
	flag.DurationVar(&c.latency, "latency", 0, "added latency per non-token call")
	flag.DurationVar(&c.jitter, "jitter", 0, "random extra latency 0..jitter")
	flag.Float64Var(&c.errorRate, "error-rate", 0, "probability (0..1) of a random 500 per non-token call")
	flag.DurationVar(&c.tokenLifetime, "token-lifetime", time.Hour, "access token lifetime")
	flag.BoolVar(&c.tls, "tls", false, "serve HTTPS with a self-signed certificate generated at start")
	flag.Int64Var(&c.seedStep, "seed-step", 0, "server i (from 1) uses seed + (i-1) x seed-step (1 reproduces the demo fleet's data)")
	flag.Func("names", "comma-separated server names (default sim1..simN); sets --servers to their number", func(s string) error {
		names, err := parseNames(s)
		c.names = names
		return err
	})
	flag.Func("now", "anchor of the generated data, RFC 3339 (default: start time, to the minute); fixed runs see the same sessions", func(s string) error {
		t, err := time.Parse(time.RFC3339, s)
		c.now = t.UTC()
		return err
	})
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		v := "(unknown)"
		if bi, ok := debug.ReadBuildInfo(); ok {
			v = bi.Main.Version
		}
		fmt.Printf("vbo-sim %s %s\n", v, runtime.Version())
		return
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "vbo-sim: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, log, func(name, url string) { fmt.Printf("%s %s\n", name, url) }); err != nil {
		log.Error("vbo-sim failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx is done; ready is called with each server's name and base URL.
func run(ctx context.Context, c config, log *slog.Logger, ready func(name, url string)) error {
	if len(c.names) > 0 {
		c.servers = len(c.names)
	}
	if c.servers < 1 {
		return errors.New("--servers must be >= 1")
	}
	switch c.apiVersion {
	case "v6", "v7", "v8":
	default:
		return fmt.Errorf("--api-version %q: want v6, v7 or v8", c.apiVersion)
	}
	host, portStr, err := net.SplitHostPort(c.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("--listen port: %w", err)
	}
	var tlsCfg *tls.Config
	if c.tls {
		cert, fp, err := selfSigned(host)
		if err != nil {
			return err
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		log.Info("generated self-signed certificate", "sha256", fp)
		fmt.Printf("TLS certificate SHA-256 fingerprint: %s\n", fp)
	}
	now := c.now
	if now.IsZero() {
		now = time.Now().UTC().Truncate(time.Minute)
	}
	var servers []*http.Server
	var listeners []net.Listener
	for i := 1; i <= c.servers; i++ {
		name := fmt.Sprintf("sim%d", i)
		if len(c.names) > 0 {
			name = c.names[i-1]
		}
		start := time.Now()
		sim := vbosim.New(vbosim.Options{
			APIVersion: c.apiVersion, Username: c.username, Password: c.password, Seed: c.seed + int64(i-1)*c.seedStep, Name: name,
			Orgs: c.orgs, Sessions: c.sessions, Now: now, TokenLifetime: c.tokenLifetime, MaxEventsPerSession: c.maxEvents,
			RestoreIdleTimeout: c.restoreIdle, MaxRestoreSessions: c.maxRestoreSessions,
			Faults: vbosim.Faults{Latency: c.latency, Jitter: c.jitter, ErrorRate: c.errorRate},
		})
		p := 0
		if port != 0 {
			p = port + i - 1
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		listeners = append(listeners, ln)
		scheme := "http"
		if tlsCfg != nil {
			scheme = "https"
			ln = tls.NewListener(ln, tlsCfg)
		}
		url := fmt.Sprintf("%s://%s/%s", scheme, ln.Addr().String(), c.apiVersion)
		srv := &http.Server{Handler: logRequests(sim, log.With("server", name)), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		log.Info("server ready", "server", name, "url", url, "orgs", c.orgs, "sessions", c.sessions, "build", time.Since(start).Round(time.Millisecond))
		if ready != nil {
			ready(name, url)
		}
		go func(ln net.Listener) {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("serve", "server", name, "err", err)
			}
		}(ln)
	}
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func(s *http.Server) {
			defer wg.Done()
			if err := s.Shutdown(sctx); err != nil {
				s.Close()
			}
		}(s)
	}
	wg.Wait()
	return nil
}

// parseNames reads --names: distinct server names of 1-64 of [A-Za-z0-9._-] (what the gateway's
// config accepts).
func parseNames(s string) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if !gid.ValidServerName(n) {
			return nil, fmt.Errorf("server name %q: want 1-64 of A-Z a-z 0-9 . _ -", n)
		}
		if seen[n] {
			return nil, fmt.Errorf("server name %q given twice", n)
		}
		seen[n] = true
		names = append(names, n)
	}
	return names, nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

func logRequests(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		log.Debug("request", "method", r.Method, "path", r.URL.RequestURI(), "status", sw.status, "dur", time.Since(start))
		if sw.status >= 500 {
			log.Info("request failed", "method", r.Method, "path", r.URL.RequestURI(), "status", sw.status)
		}
	})
}

// selfSigned makes an ECDSA P-256 certificate for localhost, 127.0.0.1, ::1, the host name and
// the listen host; it returns the SHA-256 fingerprint of the DER certificate as hex.
func selfSigned(listenHost string) (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	hn, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "vbo-sim", Organization: []string{"vbo-sim"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	if hn != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, hn)
	}
	if ip := net.ParseIP(listenHost); ip != nil && !ip.IsUnspecified() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if listenHost != "" && ip == nil {
		tmpl.DNSNames = append(tmpl.DNSNames, listenHost)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, hex.EncodeToString(sum[:]), nil
}
