package actionlog

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// Record types: a step's begin and its outcome (which names the begin in ref_id).
const (
	recBegin   = "BEGIN"
	recOutcome = "OUTCOME"
)

// record is one row of restore_action, the unit the chain hashes.
type record struct {
	ID       string
	Tenant   string // the chain
	Position int64
	Record   string // recBegin | recOutcome
	RefID    string // outcome: its begin record
	Kind     Kind
	Actor    Actor // begin records only
	Reason   string
	Server   string
	OrgID    string
	GwID     string // gateway session
	VBOID    string
	SessType string
	Replica  string
	Detail   string
	Status   Status
	Upstream int64
	Error    string
	AtNS     int64
	PrevHash string
	Hash     string
}

// hashDomain opens every record's encoding: it names what is hashed and the encoding's version.
const hashDomain = "vbo-gateway/restore_action/v1"

// encode is the canonical encoding hashed into a record's hash: hashDomain, then each field in
// the fixed order below as (name, value), both prefixed with their length in bytes as an
// unsigned varint (encoding/binary's Uvarint), so no two records share an encoding. Integers
// are written in decimal, times as Unix nanoseconds, text as its UTF-8 bytes (detail JSON as
// stored, byte for byte). A field whose value is empty (text "", integer 0) is left out:
// a field added later therefore leaves the hash of every record written before it unchanged,
// while setting it on such a record changes the hash. Every stored column except hash itself
// is encoded; prev_hash is, so each record commits to the whole chain before it.
func (r *record) encode() []byte {
	b := make([]byte, 0, 512+len(r.Detail))
	put := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	put(hashDomain)
	field := func(name, v string) {
		if v == "" {
			return
		}
		put(name)
		put(v)
	}
	num := func(name string, v int64) {
		if v != 0 {
			field(name, strconv.FormatInt(v, 10))
		}
	}
	field("id", r.ID)
	field("tenant", r.Tenant)
	num("position", r.Position)
	field("prev_hash", r.PrevHash)
	field("record", r.Record)
	field("ref_id", r.RefID)
	field("kind", string(r.Kind))
	field("actor_tenant", r.Actor.Tenant)
	field("person", r.Actor.Person)
	field("display_name", r.Actor.DisplayName)
	field("role", r.Actor.Role)
	field("client_addr", r.Actor.ClientAddr)
	field("user_agent", r.Actor.UserAgent)
	field("request_id", r.Actor.RequestID)
	field("reason", r.Reason)
	field("server", r.Server)
	field("org_id", r.OrgID)
	field("gateway_session_id", r.GwID)
	field("vbo_session_id", r.VBOID)
	field("session_type", r.SessType)
	field("replica", r.Replica)
	field("detail", r.Detail)
	field("status", string(r.Status))
	num("upstream_status", r.Upstream)
	field("error", r.Error)
	num("at_ns", r.AtNS)
	return b
}

// digest is the hex SHA-256 of the record's encoding.
func (r *record) digest() string {
	sum := sha256.Sum256(r.encode())
	return hex.EncodeToString(sum[:])
}

var recordColList = []string{"id", "tenant", "position", "record", "ref_id", "kind", "actor_tenant", "person",
	"display_name", "role", "client_addr", "user_agent", "request_id", "reason", "server", "org_id", "gateway_session_id",
	"vbo_session_id", "session_type", "replica", "detail", "status", "upstream_status", "error", "at_ns", "prev_hash", "hash"}

var recordCols = strings.Join(recordColList, ", ")

// colsOf is recordCols qualified by a table alias.
func colsOf(alias string) string {
	out := make([]string, len(recordColList))
	for i, c := range recordColList {
		out[i] = alias + "." + c
	}
	return strings.Join(out, ", ")
}

func (r *record) dest() []any {
	return []any{&r.ID, &r.Tenant, &r.Position, &r.Record, &r.RefID, &r.Kind, &r.Actor.Tenant, &r.Actor.Person,
		&r.Actor.DisplayName, &r.Actor.Role, &r.Actor.ClientAddr, &r.Actor.UserAgent, &r.Actor.RequestID, &r.Reason,
		&r.Server, &r.OrgID, &r.GwID, &r.VBOID, &r.SessType, &r.Replica, &r.Detail, &r.Status, &r.Upstream, &r.Error,
		&r.AtNS, &r.PrevHash, &r.Hash}
}

func (r *record) args() []any {
	return []any{r.ID, r.Tenant, r.Position, r.Record, r.RefID, string(r.Kind), r.Actor.Tenant, r.Actor.Person,
		r.Actor.DisplayName, r.Actor.Role, r.Actor.ClientAddr, r.Actor.UserAgent, r.Actor.RequestID, r.Reason,
		r.Server, r.OrgID, r.GwID, r.VBOID, r.SessType, r.Replica, r.Detail, string(r.Status), r.Upstream, r.Error,
		r.AtNS, r.PrevHash, r.Hash}
}

func scanRecord(row store.Row) (*record, error) {
	var r record
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return &r, nil
}

// newID is a record's (and a gateway session's) id: 128 random bits in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
