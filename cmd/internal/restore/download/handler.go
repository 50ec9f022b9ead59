package download

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/graph/requestid"
	"github.com/vbo-gateway/vbo-gateway/resolvers"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// Reasons recorded (and shown to the tenant) when a download fails.
const (
	reasonTooLarge = "the download exceeds restore.maxDownloadBytes"
	reasonUpstream = "VBO's answer failed"
	reasonClient   = "the client went away before the download completed"
)

// contentTypes are the media types served as VBO gives them; anything else is served as
// application/octet-stream (with nosniff), so VBO's answer can never become a page.
var contentTypes = map[string]bool{
	"application/octet-stream":   true,
	"application/zip":            true,
	"application/vnd.ms-outlook": true, // MSG
	"application/vnd.ms-pst":     true,
	"message/rfc822":             true,
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, chunk); return &b }}

// ServeHTTP serves GET PathPrefix+token. It must sit behind the edge's authentication (the
// principal in the request's context): without one, or for a link bound to someone else, it
// answers 404 like an unknown link.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeText(w, http.StatusMethodNotAllowed, "method not allowed: GET the link")
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	p := auth.FromContext(ctx)
	if !ok || p == nil || resolvers.CheckRestoreRole(p.Role, "") != nil {
		// No person, or one whose role may no longer restore (demoted since the link was
		// issued): like an unknown link, and the link stays unused.
		writeText(w, http.StatusNotFound, "no such download link")
		return
	}
	c, err := s.Claim(ctx, token, BindingOf(p))
	switch {
	case errors.Is(err, ErrNotFound):
		writeText(w, http.StatusNotFound, "no such download link")
		return
	case errors.Is(err, ErrExpired):
		writeText(w, http.StatusGone, "this download link has expired: ask for the items again (downloadRestoreItems)")
		return
	case errors.Is(err, ErrUsed):
		writeText(w, http.StatusGone, "this download link was already used: each link downloads once; ask for the items again (downloadRestoreItems)")
		return
	case err != nil:
		s.logger.ErrorContext(ctx, "download: claim failed", "err", err, "request_id", requestid.From(ctx))
		writeText(w, http.StatusServiceUnavailable, "the download store is unavailable; retry later")
		return
	}
	body, err := s.opener.Open(ctx, c)
	if err != nil {
		s.logger.WarnContext(ctx, "download: opening VBO's answer failed", "action", c.ActionID, "err", err,
			"request_id", requestid.From(ctx))
		s.finish(ctx, c, Finished{Status: StatusFailed, SHA256: emptySHA256, Reason: reasonUpstream})
		writeText(w, http.StatusBadGateway, "VBO did not deliver the items; the link is used up: ask for them again")
		return
	}
	defer body.Close()
	if body.Length > s.maxBytes {
		s.finish(ctx, c, Finished{Status: StatusFailed, SHA256: emptySHA256,
			Reason: fmt.Sprintf("%s (%d bytes declared, at most %d)", reasonTooLarge, body.Length, s.maxBytes)})
		writeText(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s (%d bytes, at most %d): select fewer items",
			reasonTooLarge, body.Length, s.maxBytes))
		return
	}
	s.stream(w, r, c, body)
}

// stream copies body to w through the counting, hashing writer, at most maxBytes, and
// completes the record. Past the headers a failure aborts the connection (see the package doc).
func (s *Service) stream(w http.ResponseWriter, r *http.Request, c Claim, body Body) {
	h := w.Header()
	h.Set("Content-Type", contentType(body.ContentType))
	h.Set("Content-Disposition", disposition(cmp.Or(body.FileName, c.FileName)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Trailer", "X-Download-Bytes, X-Download-Sha256")
	if body.Length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(body.Length, 10))
	}
	w.WriteHeader(http.StatusOK)

	cw := &countingWriter{w: w, rc: http.NewResponseController(w), timeout: s.wtimeout, sum: sha256.New()}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	_, err := io.CopyBuffer(cw, io.LimitReader(body, s.maxBytes), *bp)
	fail := func(reason string) {
		s.finish(r.Context(), c, Finished{Status: StatusFailed, Bytes: cw.n, SHA256: cw.digest(), Reason: reason})
		s.logger.WarnContext(r.Context(), "download: aborted", "action", c.ActionID, "bytes", cw.n, "reason", reason,
			"err", err, "request_id", requestid.From(r.Context()))
		panic(http.ErrAbortHandler) // the client must not take a truncated file for a whole one
	}
	switch {
	case cw.err != nil:
		fail(fmt.Sprintf("%s (after %d bytes)", reasonClient, cw.n))
	case err != nil:
		fail(fmt.Sprintf("%s (after %d bytes)", reasonUpstream, cw.n))
	}
	// Exactly maxBytes copied: one more byte means the stream is over the cap.
	if cw.n == s.maxBytes {
		var one [1]byte
		if n, _ := io.ReadFull(body, one[:]); n > 0 {
			err = ErrTooLarge
			fail(fmt.Sprintf("%s (more than %d bytes)", reasonTooLarge, s.maxBytes))
		}
	}
	if body.Length >= 0 && cw.n != body.Length {
		err = io.ErrUnexpectedEOF
		fail(fmt.Sprintf("%s (%d of %d bytes)", reasonUpstream, cw.n, body.Length))
	}
	sum := cw.digest()
	h.Set("X-Download-Bytes", strconv.FormatInt(cw.n, 10))
	h.Set("X-Download-Sha256", sum)
	s.finish(r.Context(), c, Finished{Status: StatusSucceeded, Bytes: cw.n, SHA256: sum})
}

// countingWriter writes to the client, counting and hashing what the client accepted, and
// gives each write its own deadline.
type countingWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
	sum     hash.Hash
	n       int64
	err     error // the client's write error
	// noDeadline: the writer cannot take deadlines.
	noDeadline bool
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if !c.noDeadline && c.rc.SetWriteDeadline(time.Now().Add(c.timeout)) != nil {
		c.noDeadline = true // not every writer supports it (tests); don't ask again
	}
	n, err := c.w.Write(p)
	c.sum.Write(p[:n])
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *countingWriter) digest() string { return hex.EncodeToString(c.sum.Sum(nil)) }

var emptySHA256 = hex.EncodeToString(sha256.New().Sum(nil))

// contentType serves VBO's media type only when it is a known file type.
func contentType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && contentTypes[mt] {
		return mt
	}
	return "application/octet-stream"
}

// maxFileName bounds a served file name (bytes).
const maxFileName = 200

// SanitizeFileName makes name safe as a download's file name: its last path element only,
// without control characters, quotes, backslashes or characters Windows forbids, no leading
// dots, at most 200 bytes (on a rune boundary, keeping the extension); "download" when nothing
// is left.
func SanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.ReplaceAll(name, `\`, "/")
	if name = path.Base("/" + name); name == "/" {
		name = ""
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), r == utf8.RuneError, unicode.Is(unicode.Cf, r): // bidi overrides too
			return -1
		case strings.ContainsRune(`"<>:|?*/`, r):
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	name = strings.TrimRight(name, ". ")
	if len(name) > maxFileName {
		ext := path.Ext(name)
		if len(ext) > 20 {
			ext = ""
		}
		stem := name[:len(name)-len(ext)]
		for len(stem)+len(ext) > maxFileName {
			_, n := utf8.DecodeLastRuneInString(stem)
			stem = stem[:len(stem)-n]
		}
		name = stem + ext
	}
	if name == "" {
		return "download"
	}
	return name
}

// disposition is an attachment header for name (sanitised; RFC 6266/5987 encoding for
// non-ASCII names through mime.FormatMediaType).
func disposition(name string) string {
	v := mime.FormatMediaType("attachment", map[string]string{"filename": SanitizeFileName(name)})
	if v == "" {
		return `attachment; filename="download"`
	}
	return v
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
