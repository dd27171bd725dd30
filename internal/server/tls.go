package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
)

// tlsConfig builds the listener's TLS configuration: the server certificate, and every client
// must present a certificate signed by client_ca. Without them the server runs only when
// insecure is set and the listen address is loopback (nil: plain HTTP, logged as insecure).
func tlsConfig(cfg cluster.ServerSettings, log *slog.Logger) (*tls.Config, error) {
	if cfg.TLSCert == "" || cfg.ClientCA == "" {
		if !cfg.Insecure {
			return nil, fault.Input("server: tls_cert, tls_key and client_ca are required (or insecure: true on a loopback listen address)")
		}
		if !loopback(cfg.Listen) {
			return nil, fault.Input("server: insecure: true is allowed only on a loopback listen address, not %s", cfg.Listen)
		}
		log.Warn("INSECURE: serving plain HTTP without client certificates; every local client is admin", "listen", cfg.Listen)
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fault.Input("server: tls_cert/tls_key: %v", err)
	}
	pem, err := os.ReadFile(cfg.ClientCA)
	if err != nil {
		return nil, fault.Input("server: client_ca: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fault.Input("server: client_ca %s holds no PEM certificate", cfg.ClientCA)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// loopback reports whether a listen address is on a loopback interface only.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// roleRank orders roles: each can do what the ones below it can.
var roleRank = map[string]int{cluster.RoleViewer: 1, cluster.RoleOperator: 2, cluster.RoleAdmin: 3}

// errNoRole is a client whose certificate's common name has no role.
var errNoRole = errors.New("no role for this client certificate")

// identity returns the client's common name and role: from the verified client certificate, or
// "local" as admin on an insecure loopback server.
func (s *Server) identity(r *http.Request) (string, string, error) {
	if s.tls == nil {
		return "local", cluster.RoleAdmin, nil
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return "", "", errNoRole
	}
	cn := r.TLS.PeerCertificates[0].Subject.CommonName
	role, ok := s.config().Roles[cn]
	if !ok {
		return cn, "", fmt.Errorf("%w (CN %q)", errNoRole, cn)
	}
	return cn, role, nil
}

// allowed reports whether role may do what needs the role need.
func allowed(role, need string) bool { return roleRank[role] >= roleRank[need] }
