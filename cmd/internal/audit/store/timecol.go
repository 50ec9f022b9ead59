package store

import (
	"database/sql"
	"time"
)

// Times are stored as UTC Unix nanoseconds (INTEGER/BIGINT columns named *_ns); 0 or NULL is
// "no time". These helpers are the one encoding, for this package and the packages that write
// their own SQL through it (watchrules, report).

// NS encodes t for a *_ns column.
func NS(t time.Time) int64 { return t.UTC().UnixNano() }

// FromNS decodes a NOT NULL *_ns column (0 is the zero time).
func FromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// NullNS encodes an optional time for a nullable *_ns column.
func NullNS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: NS(*t), Valid: true}
}

// TimePtr decodes a nullable *_ns column (NULL is nil).
func TimePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64).UTC()
	return &t
}
