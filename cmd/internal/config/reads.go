package config

import (
	"fmt"
	"time"
)

// Reads selects where restore session reads (restoreSessions, restoreSession, node, a
// session's events) go when the restore watch is on: VBO, or the watch's archive.
type Reads struct {
	// From is "auto" (default: the archive when it covers the window on every server asked and
	// its last poll of each is at most MaxLag ago; VBO otherwise), "upstream" (always VBO) or
	// "archive" (the archive whenever it covers the window, however far behind).
	From string `yaml:"from"`
	// MaxLag is how old a server's last poll may be for auto to read the archive (default 30s).
	MaxLag time.Duration `yaml:"maxLag"`
}

// Reads sources and defaults.
const (
	ReadsAuto     = "auto"
	ReadsUpstream = "upstream"
	ReadsArchive  = "archive"

	DefaultReadsMaxLag = 30 * time.Second
)

// WithDefaults fills what is unset.
func (r Reads) WithDefaults() Reads {
	if r.From == "" {
		r.From = ReadsAuto
	}
	if r.MaxLag == 0 {
		r.MaxLag = DefaultReadsMaxLag
	}
	return r
}

// Validate checks the (defaulted) settings.
func (r Reads) Validate() error {
	switch r.From {
	case ReadsAuto, ReadsUpstream, ReadsArchive:
	default:
		return fmt.Errorf("reads.from: %q is not auto, upstream or archive", r.From)
	}
	if r.MaxLag < time.Second || r.MaxLag > 24*time.Hour {
		return fmt.Errorf("reads.maxLag: %s is outside 1s..24h", r.MaxLag)
	}
	return nil
}
