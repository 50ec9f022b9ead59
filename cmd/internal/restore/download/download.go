// Package download serves the restore actions' one-time download links (issue 25): a person
// asks for items (downloadRestoreItems), the resolver records the action and calls Issue, and
// the person fetches "/download/<token>" once, with the same credentials, before the link
// expires. The handler streams VBO's answer to the client without holding it in memory, capped
// by restore.maxDownloadBytes, and completes the record with the bytes sent and their SHA-256.
//
// # Links
//
// A token is 256 bits from crypto/rand, base64url without padding (43 characters). Only its
// SHA-256 is stored (table restore_download, migration 00021), so the database cannot be used
// to download and every replica can serve every link. A link is bound to the tenant and person
// that asked: anyone else (and an anonymous caller) gets 404, exactly as for a token that does
// not exist. The claim is one conditional UPDATE (unclaimed, unexpired, same person), atomic on
// SQLite and PostgreSQL alike, so of two requests racing on two replicas exactly one streams.
// An expired or already used link answers 410 to its own person, saying which.
//
// # What is fetched
//
// Issue stores a Source: the caller's descriptor of what to fetch (server, VBO session, items:
// JSON, opaque to this package, never a secret). A function value could not be shared between
// replicas, so the composition root hands the Service an Opener that turns a claimed link's
// Source into VBO's streamed answer.
//
// # Streaming and the cap
//
// The body is copied in 32 KiB steps through a counting, hashing writer; memory stays flat
// whatever the size (BenchmarkHandler1GiB). When VBO declares a length over the cap the link is
// refused before any byte (413). When the stream passes the cap, or VBO's stream fails, after
// the headers went out, the handler aborts the connection (http.ErrAbortHandler: HTTP/1.1 closes
// without the terminating chunk, HTTP/2 resets the stream), so no client can mistake a
// truncated file for a whole one; a trailer saying so would be ignored by most clients. A
// complete download ends with the trailers X-Download-Bytes and X-Download-Sha256. Every end
// (succeeded, cap exceeded, upstream failed, client gone) completes the record (Recorder) with
// the bytes and the digest of what was actually sent.
package download

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// PathPrefix is where links are served; a link is PathPrefix + token.
const PathPrefix = "/download/"

// Defaults and bounds.
const (
	// DefaultExpiry is a link's lifetime when neither the request nor the options give one.
	DefaultExpiry = 5 * time.Minute
	// MaxExpiry bounds any link's lifetime: links expire in minutes.
	MaxExpiry = time.Hour
	// DefaultWriteTimeout is how long one chunk may take to reach the client.
	DefaultWriteTimeout = 30 * time.Second
	// tokenBytes is the token's entropy: 256 bits.
	tokenBytes = 32
	// chunk is the copy buffer.
	chunk = 32 << 10
)

// Errors callers branch on (wrapped).
var (
	// ErrNotFound: no such link, or one bound to someone else (the two are never told apart).
	ErrNotFound = errors.New("download: no such download link")
	// ErrExpired: the link's person came after it expired.
	ErrExpired = errors.New("download: the download link has expired")
	// ErrUsed: the link's person came again after it was claimed.
	ErrUsed = errors.New("download: the download link was already used")
	// ErrTooLarge: what VBO sends exceeds restore.maxDownloadBytes.
	ErrTooLarge = errors.New("download: exceeds restore.maxDownloadBytes")
)

// Binding is who may use a link: the tenant ("" for provider admins) and the person (JWT sub;
// an API key's configured person, else "apikey:<name>"), as the edge authenticated them.
type Binding struct {
	Tenant string
	Person string
}

// BindingOf is p's binding (the zero Binding for nil: no link is bound to it).
func BindingOf(p *auth.Principal) Binding {
	if p == nil {
		return Binding{}
	}
	return Binding{Tenant: p.Tenant, Person: p.Person()}
}

// Request asks for a link.
type Request struct {
	Binding Binding
	// ActionID is the action record the download completes (actionlog's id).
	ActionID string
	// Source says what to fetch, for the Opener (JSON; never a secret).
	Source json.RawMessage
	// FileName is the suggested file name (sanitised when served; the Opener's wins when set).
	FileName string
	// Expiry is the link's lifetime (0: the service's; at most MaxExpiry).
	Expiry time.Duration
}

// Ticket is an issued link. Token is shown once, to the person who asked; only its hash is kept.
type Ticket struct {
	Token     string
	Path      string // PathPrefix + Token
	ExpiresAt time.Time
}

// Claim is a link claimed for streaming: what the Opener needs.
type Claim struct {
	ActionID string
	Binding  Binding
	Source   json.RawMessage
	FileName string
	// hash is the token's hash, the row's key.
	hash string
}

// Body is VBO's streamed answer.
type Body struct {
	io.ReadCloser
	// ContentType is VBO's media type (served only when it is one of the known file types).
	ContentType string
	// FileName is the file's name, when VBO or the Opener knows one.
	FileName string
	// Length is the declared length (-1: unknown).
	Length int64
}

// Opener fetches a claimed link's source from VBO. It is called at most once per link.
type Opener interface {
	Open(ctx context.Context, c Claim) (Body, error)
}

// OpenerFunc adapts a function to Opener.
type OpenerFunc func(ctx context.Context, c Claim) (Body, error)

// Open calls f.
func (f OpenerFunc) Open(ctx context.Context, c Claim) (Body, error) { return f(ctx, c) }

// Status is how a download ended.
type Status string

// Statuses.
const (
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusExpired   Status = "EXPIRED" // never fetched (Sweep)
)

// Finished is a download's end, for the action record.
type Finished struct {
	ActionID string
	Binding  Binding
	Status   Status
	// Bytes and SHA256 (hex) are of what was sent to the client (on failure: the part sent).
	Bytes  int64
	SHA256 string
	// Reason says why it failed: safe to show the tenant (no secrets, no VBO text).
	Reason string
}

// Recorder completes the action record (the composition root wires it to actionlog).
type Recorder interface {
	DownloadFinished(ctx context.Context, f Finished) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, f Finished) error

// DownloadFinished calls f.
func (f RecorderFunc) DownloadFinished(ctx context.Context, fin Finished) error { return f(ctx, fin) }

// Options configure a Service.
type Options struct {
	Store    *store.Store
	Opener   Opener
	Recorder Recorder
	// MaxBytes is restore.maxDownloadBytes (required, > 0).
	MaxBytes int64
	// Expiry is the default link lifetime (0: DefaultExpiry; at most MaxExpiry).
	Expiry time.Duration
	// WriteTimeout bounds each chunk's write to the client (0: DefaultWriteTimeout): a client
	// that stops reading loses the download instead of pinning the stream.
	WriteTimeout time.Duration
	Logger       *slog.Logger
	// Now is the clock links expire by (nil: the store's, on PostgreSQL the database server's,
	// shared by every replica).
	Now func(ctx context.Context) (time.Time, error)
}

// Service issues, claims and serves links. Safe for concurrent use.
type Service struct {
	st       *store.Store
	opener   Opener
	recorder Recorder
	maxBytes int64
	expiry   time.Duration
	wtimeout time.Duration
	logger   *slog.Logger
	now      func(ctx context.Context) (time.Time, error)
}

// New checks o and returns the service.
func New(o Options) (*Service, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("download: no store")
	case o.Opener == nil:
		return nil, errors.New("download: no opener")
	case o.Recorder == nil:
		return nil, errors.New("download: no recorder (downloads must complete their record)")
	case o.MaxBytes <= 0:
		return nil, fmt.Errorf("download: max bytes %d: want > 0 (restore.maxDownloadBytes)", o.MaxBytes)
	case o.Expiry < 0 || o.Expiry > MaxExpiry:
		return nil, fmt.Errorf("download: expiry %s: want up to %s", o.Expiry, MaxExpiry)
	}
	s := &Service{st: o.Store, opener: o.Opener, recorder: o.Recorder, maxBytes: o.MaxBytes,
		expiry: o.Expiry, wtimeout: o.WriteTimeout, logger: o.Logger, now: o.Now}
	if s.expiry == 0 {
		s.expiry = DefaultExpiry
	}
	if s.wtimeout <= 0 {
		s.wtimeout = DefaultWriteTimeout
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.now == nil {
		s.now = o.Store.Now
	}
	return s, nil
}

// MaxBytes is the cap in force.
func (s *Service) MaxBytes() int64 { return s.maxBytes }

// Issue stores a new link for r and returns it. The token is returned once; only its hash is kept.
func (s *Service) Issue(ctx context.Context, r Request) (Ticket, error) {
	switch {
	case r.Binding.Person == "":
		return Ticket{}, errors.New("download: a link needs the person it is bound to")
	case r.ActionID == "":
		return Ticket{}, errors.New("download: a link needs its action record")
	case !json.Valid(r.Source):
		return Ticket{}, errors.New("download: source is not JSON")
	case r.Expiry < 0 || r.Expiry > MaxExpiry:
		return Ticket{}, fmt.Errorf("download: expiry %s: want up to %s", r.Expiry, MaxExpiry)
	}
	expiry := r.Expiry
	if expiry == 0 {
		expiry = s.expiry
	}
	now, err := s.now(ctx)
	if err != nil {
		return Ticket{}, fmt.Errorf("download: clock: %w", err)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return Ticket{}, fmt.Errorf("download: token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	exp := now.Add(expiry)
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO restore_download
			(token_hash, action_id, tenant, person, source, file_name, status, created_ns, expires_ns)
			VALUES (?, ?, ?, ?, ?, ?, 'ISSUED', ?, ?)`,
			hashToken(token), r.ActionID, r.Binding.Tenant, r.Binding.Person, string(r.Source),
			r.FileName, store.NS(now), store.NS(exp))
		return err
	})
	if err != nil {
		return Ticket{}, fmt.Errorf("download: issue: %w", err)
	}
	return Ticket{Token: token, Path: PathPrefix + token, ExpiresAt: exp}, nil
}

// Claim takes the link for streaming, once: the first claim by its person before it expires
// wins; every later one, and any by someone else, fails (ErrNotFound, ErrExpired, ErrUsed).
func (s *Service) Claim(ctx context.Context, token string, b Binding) (Claim, error) {
	if !validToken(token) || b.Person == "" {
		return Claim{}, ErrNotFound
	}
	now, err := s.now(ctx)
	if err != nil {
		return Claim{}, fmt.Errorf("download: clock: %w", err)
	}
	h := hashToken(token)
	c := Claim{hash: h, Binding: b}
	var src string
	claimed := false
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		// One conditional UPDATE: of two claims (two requests, two replicas) exactly one
		// matches claimed_ns IS NULL.
		err := tx.QueryRow(ctx, `UPDATE restore_download SET claimed_ns = ?, status = 'STREAMING'
			WHERE token_hash = ? AND tenant = ? AND person = ? AND claimed_ns IS NULL AND status = 'ISSUED' AND expires_ns > ?
			RETURNING action_id, source, file_name`,
			store.NS(now), h, b.Tenant, b.Person, store.NS(now)).Scan(&c.ActionID, &src, &c.FileName)
		if err == nil {
			claimed = true
			return nil
		}
		if !store.IsNoRows(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return Claim{}, fmt.Errorf("download: claim: %w", err)
	}
	if claimed {
		c.Source = json.RawMessage(src)
		return c, nil
	}
	return Claim{}, s.whyNot(ctx, h, b, now)
}

// whyNot tells the link's own person why a claim failed; anyone else learns nothing.
func (s *Service) whyNot(ctx context.Context, h string, b Binding, now time.Time) error {
	var tenant, person, status string
	var expires int64
	var claimed *int64
	err := s.st.QueryRow(ctx, `SELECT tenant, person, status, expires_ns, claimed_ns FROM restore_download WHERE token_hash = ?`, h).
		Scan(&tenant, &person, &status, &expires, &claimed)
	switch {
	case store.IsNoRows(err):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("download: claim: %w", err)
	case tenant != b.Tenant || person != b.Person:
		return ErrNotFound
	case claimed != nil:
		return ErrUsed
	case status == string(StatusExpired) || expires <= store.NS(now):
		return ErrExpired
	}
	return ErrUsed
}

// finish completes the link's row and the action record. It runs on a context of its own, so
// a client gone mid-stream still leaves its record.
func (s *Service) finish(ctx context.Context, c Claim, f Finished) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	f.ActionID, f.Binding = c.ActionID, c.Binding
	now, err := s.now(ctx)
	if err != nil {
		now = time.Now()
	}
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE restore_download SET status = ?, completed_ns = ?, bytes = ?, sha256 = ?, error = ?
			WHERE token_hash = ?`, string(f.Status), store.NS(now), f.Bytes, f.SHA256, f.Reason, c.hash)
		return err
	})
	if err != nil {
		s.logger.ErrorContext(ctx, "download: completing the link failed", "action", c.ActionID, "err", err)
	}
	if err := s.recorder.DownloadFinished(ctx, f); err != nil {
		s.logger.ErrorContext(ctx, "download: completing the action record failed", "action", c.ActionID, "err", err)
	}
}

// Record is a link's row as stored (for tests and the resolvers' reads).
type Record struct {
	ActionID  string
	Binding   Binding
	Status    string // ISSUED, STREAMING, SUCCEEDED, FAILED, EXPIRED
	ExpiresAt time.Time
	Claimed   bool
	Bytes     int64
	SHA256    string
	Error     string
}

// Lookup reads the link of actionID (ErrNotFound when none).
func (s *Service) Lookup(ctx context.Context, actionID string) (Record, error) {
	var r Record
	var expires int64
	var claimed *int64
	err := s.st.QueryRow(ctx, `SELECT action_id, tenant, person, status, expires_ns, claimed_ns, bytes, sha256, error
		FROM restore_download WHERE action_id = ? ORDER BY created_ns DESC LIMIT 1`, actionID).
		Scan(&r.ActionID, &r.Binding.Tenant, &r.Binding.Person, &r.Status, &expires, &claimed, &r.Bytes, &r.SHA256, &r.Error)
	if store.IsNoRows(err) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("download: lookup: %w", err)
	}
	r.ExpiresAt, r.Claimed = store.FromNS(expires), claimed != nil
	return r, nil
}

// Sweep marks links that expired unused as EXPIRED and completes their action records
// (StatusExpired), at most limit per call; it returns how many it marked. Run it periodically
// (the reaper); a link swept is answered 410 like any expired one.
func (s *Service) Sweep(ctx context.Context, limit int) (int, error) {
	now, err := s.now(ctx)
	if err != nil {
		return 0, fmt.Errorf("download: clock: %w", err)
	}
	var swept []Claim
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE restore_download SET status = 'EXPIRED', completed_ns = ?, error = 'expired unused'
			WHERE token_hash IN (SELECT token_hash FROM restore_download WHERE status = 'ISSUED' AND expires_ns <= ? LIMIT ?)
			AND status = 'ISSUED' RETURNING token_hash, action_id, tenant, person`, store.NS(now), store.NS(now), limit)
		if err != nil {
			return err
		}
		swept, err = store.Collect(rows, func(r store.Row) (Claim, error) {
			var c Claim
			return c, r.Scan(&c.hash, &c.ActionID, &c.Binding.Tenant, &c.Binding.Person)
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("download: sweep: %w", err)
	}
	for _, c := range swept {
		if err := s.recorder.DownloadFinished(ctx, Finished{ActionID: c.ActionID, Binding: c.Binding,
			Status: StatusExpired, Reason: "the download link expired unused"}); err != nil {
			s.logger.ErrorContext(ctx, "download: completing the action record failed", "action", c.ActionID, "err", err)
		}
	}
	return len(swept), nil
}

// hashToken is the stored form of a token.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// validToken reports whether token has the shape Issue makes (43 base64url characters), so
// junk never reaches the database.
func validToken(token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	return strings.Trim(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}
