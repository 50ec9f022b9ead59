package actionlog

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
)

// Verify walks tenant's chain ("" = the provider admins' chain) and reports the first break:
// a record whose hash does not match its contents (an edit), whose prev_hash is not the
// previous record's hash (an edit before it, a swap, a forged insert), a missing position (a
// deleted record), an outcome whose begin is missing (or is not a begin of this chain before
// it), a claim whose START is (ClaimSession), or a chain that ends before its head (its newest
// records deleted).
//
// It reads the head first and walks positions 1..head, streaming rows one at a time in
// position order (memory does not grow with the chain); records appended meanwhile are left
// for the next walk.
func (l *Log) Verify(ctx context.Context, tenant string) (Verification, error) {
	var headPos int64
	var headHash string
	err := l.st.QueryRow(ctx, `SELECT position, hash FROM restore_chain_head WHERE tenant = ?`, tenant).Scan(&headPos, &headHash)
	bound, haveHead := headPos, true
	if store.IsNoRows(err) {
		// No record was ever appended (an empty chain), unless rows say otherwise.
		err, bound, haveHead = nil, 1<<62, false
	}
	if err != nil {
		return Verification{}, fmt.Errorf("actionlog: verify: %w", err)
	}
	rows, err := l.st.Query(ctx, `SELECT `+colsOf("x")+`, r.tenant, r.position, r.record, r.kind
		FROM restore_action x LEFT JOIN restore_action r ON x.ref_id <> '' AND r.id = x.ref_id
		WHERE x.tenant = ? AND x.position <= ? ORDER BY x.position`, tenant, bound)
	if err != nil {
		return Verification{}, fmt.Errorf("actionlog: verify: %w", err)
	}
	defer rows.Close()
	v := Verification{OK: true}
	broken := func(at int64, format string, args ...any) {
		v.OK, v.BrokenAt, v.Problem = false, &at, fmt.Sprintf(format, args...)
	}
	prev := ""
	var x record
	for rows.Next() {
		var refTenant, refRecord, refKind sql.NullString
		var refPos sql.NullInt64
		if err := rows.Scan(append(x.dest(), &refTenant, &refPos, &refRecord, &refKind)...); err != nil {
			return Verification{}, fmt.Errorf("actionlog: verify: %w", err)
		}
		want := v.Records + 1
		switch {
		case x.Position != want:
			broken(want, "record at position %d is missing (the next is at %d)", want, x.Position)
		case x.PrevHash != prev:
			broken(x.Position, "record at position %d does not link to the record before it", x.Position)
		case x.digest() != x.Hash:
			broken(x.Position, "record at position %d does not match its hash (it was changed)", x.Position)
		case x.Record == recOutcome && (!refRecord.Valid || refRecord.String != recBegin || refTenant.String != x.Tenant ||
			refPos.Int64 >= x.Position || refKind.String != string(x.Kind)):
			broken(x.Position, "outcome at position %d has no begin record before it", x.Position)
		case x.Record == recBegin && x.Kind == KindApprove && (!refRecord.Valid || refRecord.String != recBegin ||
			refTenant.String != x.Tenant || refPos.Int64 >= x.Position):
			broken(x.Position, "approval at position %d has no action before it", x.Position)
		case x.Record == recClaim && (!refRecord.Valid || refRecord.String != recBegin || refTenant.String != x.Tenant ||
			refPos.Int64 >= x.Position || refKind.String != string(KindStart) || x.Kind != KindStart):
			broken(x.Position, "claim at position %d has no start before it", x.Position)
		case x.Record != recOutcome && x.Record != recBegin && x.Record != recClaim:
			broken(x.Position, "record at position %d is of unknown type %q", x.Position, x.Record)
		}
		if !v.OK {
			return v, nil
		}
		v.Records++
		prev = x.Hash
	}
	if err := rows.Err(); err != nil {
		return Verification{}, fmt.Errorf("actionlog: verify: %w", err)
	}
	if !haveHead && v.Records > 0 {
		broken(1, "the chain's head is missing")
	} else if v.Records != headPos || prev != headHash {
		broken(v.Records+1, "chain ends at position %d but its head is at %d (records were removed)", v.Records, headPos)
	}
	return v, nil
}
