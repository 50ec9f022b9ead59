package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/clientaddr"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// Session kinds.
const (
	kindOIDC   = "oidc"
	kindAPIKey = "apikey"
)

// cookieName is the session cookie when cookies are Secure (the __Host- prefix pins it to this
// host, path /, Secure) and cookieNameLoopback for plain-http development on loopback, where
// Secure cannot be (see secure).
const (
	cookieName         = "__Host-vbo-console"
	cookieNameLoopback = "vbo-console"
)

// session is one signed-in person, as the request found it.
type session struct {
	idHash    string
	csrf      string
	kind      string
	principal *auth.Principal // rebuilt with the configuration in force
	// view is whose data the pages show: the principal, or a provider admin's chosen tenant.
	view   *auth.Principal
	tenant string // the provider admin's chosen tenant ("" for everything)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// secure reports whether the console's cookies are Secure (the session cookie then named
// __Host-vbo-console). They are, except for plain-http development on loopback (the demo at
// http://127.0.0.1:PORT), which takes all of:
//   - no TLS on the connection;
//   - console.oidc.redirectURL, when set, is not https (an https redirect URL says where the
//     console is served: behind a TLS-terminating proxy the connection itself is plain http);
//   - nothing says a proxy forwarded the request: the peer is no trusted proxy
//     (http.trustedProxies) and no forwarding header (X-Forwarded-Proto, X-Forwarded-For,
//     Forwarded, ...) came with it. A client can write those, but they only ever make the
//     cookies stricter, never drop Secure;
//   - the connection's peer is a loopback address;
//   - and the Host header names loopback too (localhost, 127.0.0.1, [::1]).
//
// The Host header can only make the cookies stricter, never drop Secure: a client chooses it,
// and a proxy that rewrites it to 127.0.0.1 must not make the gateway drop Secure on cookies a
// browser gets over https. But a loopback peer asking for a public host is a TLS terminator on
// the same machine relaying the browser's bytes (stunnel, ghostunnel, haproxy in tcp mode),
// which adds no forwarding header: the browser is on https.
func (c *Console) secure(r *http.Request) bool {
	if r.TLS != nil || c.httpsURL {
		return true
	}
	if clientaddr.ProxiesFrom(r.Context()).Forwarded(r) {
		return true
	}
	peer, ok := clientaddr.Peer(r)
	return !ok || !peer.IsLoopback() || !loopbackHost(r.Host)
}

// loopbackHost reports whether a Host header names this machine's loopback: localhost or a
// loopback address, with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// cookieFor is the session cookie's name for r (secure decides).
func (c *Console) cookieFor(r *http.Request) string {
	if c.secure(r) {
		return cookieName
	}
	return cookieNameLoopback
}

// createSession stores a session for p and sets its cookie.
func (s *server) createSession(ctx context.Context, w http.ResponseWriter, r *http.Request, kind string, p *auth.Principal) error {
	id, now := randomToken(), s.now()
	err := s.opts.Store.InTx(ctx, func(tx store.Tx) error {
		// Expired sessions and sign-ins go as new ones come: the tables stay small.
		if _, err := tx.Exec(ctx, `DELETE FROM console_session WHERE expires_ns < ?`, now.UnixNano()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM console_login WHERE expires_ns < ?`, now.UnixNano()); err != nil {
			return err
		}
		// The session this browser came with ends: no id from before a sign-in outlives it.
		if c, err := r.Cookie(s.cookieFor(r)); err == nil && c.Value != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM console_session WHERE id_hash = ?`, hashToken(c.Value)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_session (id_hash, csrf, kind, subject, tenant, role, created_ns, expires_ns, auth_time_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, hashToken(id), randomToken(), kind, p.Subject, p.Tenant, string(p.Role),
			now.UnixNano(), now.Add(s.cfg.SessionTTL).UnixNano(), sessionAuthTime(kind, p))
		return err
	})
	if err != nil {
		return fmt.Errorf("console: store session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieFor(r), Value: id, Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.cfg.SessionTTL.Seconds())})
	s.log.InfoContext(ctx, "console sign-in", "kind", kind, "subject", p.Subject, "tenant", p.Tenant, "role", p.Role)
	return nil
}

// sessionAuthTime is what a session keeps of when its person authenticated: an OpenID Connect
// sign-in's ID token auth_time in Unix nanoseconds (the step-up check for a restore to the
// original location reads it), NULL for an API key or an ID token without one.
func sessionAuthTime(kind string, p *auth.Principal) sql.NullInt64 {
	at := p.Credential().AuthTime
	if kind != kindOIDC || p.Credential().Kind != auth.CredentialJWT || at.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: at.UnixNano(), Valid: true}
}

// errSignedOut: no session, or one the configuration no longer accepts.
var errSignedOut = errors.New("console: not signed in")

// loadSession finds the request's session and rebuilds its principal with the configuration
// in force; a session whose principal is gone is deleted.
func (s *server) loadSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(s.cookieFor(r))
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, errSignedOut
	}
	ctx, idHash := r.Context(), hashToken(c.Value)
	var sess session
	var subject, tenant, role string
	var authNS sql.NullInt64
	err = s.opts.Store.QueryRow(ctx, `SELECT csrf, kind, subject, tenant, role, auth_time_ns FROM console_session
		WHERE id_hash = ? AND expires_ns > ?`, idHash, s.now().UnixNano()).Scan(&sess.csrf, &sess.kind, &subject, &tenant, &role, &authNS)
	if store.IsNoRows(err) {
		return nil, errSignedOut
	}
	if err != nil {
		return nil, fmt.Errorf("console: read session: %w", err)
	}
	sess.idHash = idHash
	var authTime time.Time
	if authNS.Valid && sess.kind == kindOIDC {
		authTime = time.Unix(0, authNS.Int64).UTC()
	}
	p, err := s.opts.Authority.Current(subject, tenant, auth.Role(role), authTime)
	if err != nil {
		s.log.InfoContext(ctx, "console session ended: the configuration no longer accepts it", "subject", subject, "tenant", tenant, "err", err)
		_ = s.deleteSession(ctx, idHash)
		return nil, errSignedOut
	}
	sess.principal, sess.view = p, p
	if t := r.URL.Query().Get("tenant"); t != "" && p.IsAdmin() {
		if v, ok := s.opts.Authority.TenantView(p, t); ok {
			sess.view, sess.tenant = v, t
		}
	}
	return &sess, nil
}

// stillValid re-reads the session (long streams check it periodically).
func (s *server) stillValid(r *http.Request) bool {
	_, err := s.loadSession(r)
	return err == nil
}

func (s *server) deleteSession(ctx context.Context, idHash string) error {
	return s.opts.Store.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM console_session WHERE id_hash = ?`, idHash)
		return err
	})
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) *session {
	sess, _ := ctx.Value(sessionKey{}).(*session)
	return sess
}

// authed serves h to a signed-in person (others go to the sign-in page), checking the CSRF
// token on every POST.
func (s *server) authed(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.loadSession(r)
		if errors.Is(err, errSignedOut) {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/stream") {
				http.Redirect(w, r, "/console/signin?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in again", http.StatusUnauthorized)
			return
		}
		if err != nil {
			s.log.ErrorContext(r.Context(), "console session", "err", err)
			http.Error(w, "the console's store is unavailable; try again", http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.csrf)) != 1 {
				http.Error(w, "the form's CSRF token is missing or stale: reload the page", http.StatusForbidden)
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

func (s *server) signout(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	if err := s.deleteSession(r.Context(), sess.idHash); err != nil {
		http.Error(w, "the console's store is unavailable; try again", http.StatusServiceUnavailable)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieFor(r), Value: "", Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}
