package console

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/clientaddr"
)

// loginTTL bounds a sign-in under way (the person at the issuer's page).
const loginTTL = 10 * time.Minute

// stateCookie holds the state of the sign-in this browser started.
const stateCookie = "vbo-console-state"

// Failed API-key sign-ins are throttled per client address, as /graphql throttles failed
// authentication: keyFailureBurst at once, then one per keyFailureEvery.
const (
	keyFailureBurst = 10
	keyFailureEvery = 6 * time.Second
)

// Sign-ins started (GET /console/auth/start, no session needed, a stored row each) are
// throttled per client address too: loginStartBurst at once, then one per loginStartEvery.
const (
	loginStartBurst = 20
	loginStartEvery = 3 * time.Second
)

// spendLoginStart takes one started sign-in from the client's budget.
func (s *server) spendLoginStart(r *http.Request) bool {
	return spend(s.loginStarts, clientBucket(r), loginStartEvery, loginStartBurst)
}

// spendKeyFailure takes one failure from the client's budget and reports whether it had one
// left. A valid key always signs in, whatever its address did before (as on /graphql).
func (s *server) spendKeyFailure(r *http.Request) bool {
	return spend(s.keyFailures, clientBucket(r), keyFailureEvery, keyFailureBurst)
}

// spend takes one token from key's limiter in budgets (a new one, full, for a key not seen
// within the cache's expiry) and reports whether it had one left.
func spend(budgets *expirable.LRU[string, *rate.Limiter], key string, every time.Duration, burst int) bool {
	lim, ok := budgets.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Every(every), burst)
		budgets.Add(key, lim)
	}
	return lim.Allow()
}

// clientBucket is whose budget a request spends: the client's address as the edge finds it
// behind the trusted proxies (http.trustedProxies; the edge records them in the request's
// context), or its IPv6 /64, exactly as /graphql's authentication gate counts failures. Behind
// a reverse proxy every browser would otherwise share the proxy's budget, and one attacker
// would lock everyone out.
func clientBucket(r *http.Request) string {
	return clientaddr.ProxiesFrom(r.Context()).Bucket(r)
}

// oidcClient is the console's OpenID Connect client, made from the issuer's discovery
// document on the first sign-in (the gateway starts without the issuer).
type oidcClient struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func (s *server) oidcClient(ctx context.Context) (*oidcClient, error) {
	s.oidcMu.Lock()
	defer s.oidcMu.Unlock()
	if s.oidc != nil {
		return s.oidc, nil
	}
	o := s.cfg.OIDC
	ctx = oidc.ClientContext(ctx, s.opts.HTTPClient)
	p, err := oidc.NewProvider(ctx, s.opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console: discover %s: %w", s.opts.Issuer, err)
	}
	s.oidc = &oidcClient{
		oauth: oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret(), RedirectURL: o.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		verifier: p.Verifier(&oidc.Config{ClientID: o.ClientID}),
	}
	return s.oidc, nil
}

// safeNext keeps a return path inside the console (never another site).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, "/console/auth/") || strings.HasPrefix(next, "/console/signin") {
		return "/console/overview"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func (s *server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "signin", pageData{Title: "Sign in", Data: map[string]any{
		"OIDC": s.cfg.OIDC != nil, "APIKey": s.cfg.APIKeySignIn, "Next": safeNext(r.URL.Query().Get("next")),
		"Error": r.URL.Query().Get("error"),
	}})
}

// signinKey signs in with an API key, checked like a request's; the session keeps the key's
// name, never the key.
func (s *server) signinKey(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.APIKeySignIn {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	key := strings.TrimSpace(r.PostFormValue("key"))
	p, err := s.opts.Authority.APIKey(key)
	if key == "" || err != nil || p == nil {
		if !s.spendKeyFailure(r) {
			w.Header().Set("Retry-After", fmt.Sprint(int(keyFailureEvery.Seconds())))
			http.Error(w, "too many failed sign-ins from this address; retry later", http.StatusTooManyRequests)
			return
		}
		s.log.InfoContext(r.Context(), "console sign-in refused", "kind", kindAPIKey, "reason", err)
		http.Redirect(w, r, "/console/signin?error=key&next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	if err := s.createSession(r.Context(), w, r, kindAPIKey, p); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// oidcStart sends the browser to the issuer: authorization code flow with PKCE (S256), a
// state and a nonce kept in the store until the callback uses them.
func (s *server) oidcStart(w http.ResponseWriter, r *http.Request) {
	if s.cfg.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	if !s.spendLoginStart(r) {
		w.Header().Set("Retry-After", fmt.Sprint(int(loginStartEvery.Seconds())))
		http.Error(w, "too many sign-ins started from this address; retry later", http.StatusTooManyRequests)
		return
	}
	oc, err := s.oidcClient(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	next := safeNext(r.URL.Query().Get("next"))
	ctx := r.Context()
	err = s.opts.Store.InTx(ctx, func(tx store.Tx) error {
		// Abandoned sign-ins go as new ones start (not only when someone signs in).
		if _, err := tx.Exec(ctx, `DELETE FROM console_login WHERE expires_ns < ?`, s.now().UnixNano()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_login (state_hash, verifier, nonce, return_to, expires_ns) VALUES (?, ?, ?, ?, ?)`,
			hashToken(state), verifier, nonce, next, s.now().Add(loginTTL).UnixNano())
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The state is bound to this browser too: a callback carrying someone else's sign-in (login
	// CSRF: an attacker's code sent to a victim) finds no matching cookie.
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state, Path: "/console/auth/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(loginTTL.Seconds())})
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if r.URL.Query().Get("reauth") == "1" {
		// Signing in again for a step-up (the "sign in again" link of a restore refused under
		// restore.stepUpMaxAge): the issuer must authenticate the person now, not answer from
		// its own session with the old auth_time; max_age also makes auth_time required.
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0"))
	}
	http.Redirect(w, r, oc.oauth.AuthCodeURL(state, opts...), http.StatusFound)
}

// oidcCallback takes the issuer's answer: the state (once), the code exchanged with the PKCE
// verifier, the ID token verified (issuer, audience, expiry, signature) with its nonce, and
// its claims read like a JWT's (tenant and role claims) into the session's principal.
func (s *server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if s.cfg.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	ctx, q := r.Context(), r.URL.Query()
	refuse := func(reason string, err error) {
		s.log.InfoContext(ctx, "console sign-in refused", "kind", kindOIDC, "reason", reason, "err", err)
		http.Redirect(w, r, "/console/signin?error=oidc", http.StatusSeeOther)
	}
	if e := q.Get("error"); e != "" {
		refuse("the issuer answered "+e, nil)
		return
	}
	state, code := q.Get("state"), q.Get("code")
	if state == "" || code == "" || len(state) > 200 {
		refuse("no state or code", nil)
		return
	}
	if c, err := r.Cookie(stateCookie); err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		refuse("the state is not this browser's", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: "/console/auth/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	var verifier, nonce, next string
	err := s.opts.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT verifier, nonce, return_to FROM console_login WHERE state_hash = ? AND expires_ns > ?`,
			hashToken(state), s.now().UnixNano()).Scan(&verifier, &nonce, &next); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM console_login WHERE state_hash = ?`, hashToken(state))
		return err
	})
	if err != nil {
		refuse("unknown, used or expired state", err)
		return
	}
	oc, err := s.oidcClient(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	xctx := oidc.ClientContext(ctx, s.opts.HTTPClient)
	tok, err := oc.oauth.Exchange(xctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		refuse("code exchange failed", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		refuse("no id_token", nil)
		return
	}
	idt, err := oc.verifier.Verify(xctx, raw)
	if err != nil {
		refuse("id_token not valid", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		refuse("nonce mismatch", nil)
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		refuse("claims", err)
		return
	}
	p, err := s.opts.Authority.Claims(claims)
	if err != nil || p == nil {
		refuse("claims name no principal", err)
		return
	}
	if err := s.createSession(ctx, w, r, kindOIDC, p); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}
