package actionlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// An item action's items, target, recipients, counts, bytes and digest are recorded, read back
// and covered by the hash: editing any of them with raw SQL breaks the chain there.
func TestItemActionRecorded(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		items := []Item{{ID: "it-1", Name: "Q3 plan.msg", Type: "Message"}, {ID: "it-2"}}
		b, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindSend, GatewaySessionID: s.ID, Items: items,
			Recipients: []string{"bob@contoso.example", "carol@contoso.example"}, IdempotencyKey: "k1",
			Detail: json.RawMessage(`{"subject":"as asked"}`)})
		if err != nil {
			t.Fatal(err)
		}
		sum := strings.Repeat("ab", 32)
		c, err := e.log.Complete(ctx, b.ID, Outcome{Status: StatusPartial, UpstreamStatus: 200,
			Counts: &Counts{Created: 1, Failed: 1}, Bytes: 4096, SHA256: sum, Detail: json.RawMessage(`{"warnings":["it-2 too large"]}`)})
		if err != nil {
			t.Fatal(err)
		}
		rt, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindRestoreToOriginal, GatewaySessionID: s.ID, Items: items[:1]})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.log.Actions(ctx, s.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("%d actions", len(got))
		}
		send := got[1]
		if fmt.Sprint(send.Items) != fmt.Sprint(items) || fmt.Sprint(send.Recipients) != "[bob@contoso.example carol@contoso.example]" ||
			send.Status != StatusPartial || send.Counts == nil || *send.Counts != (Counts{Created: 1, Failed: 1}) ||
			send.Bytes != 4096 || send.SHA256 != sum || send.IdempotencyKey != "k1" || send.Destructive || send.ID != c.ID {
			t.Fatalf("send = %+v", send)
		}
		if !got[2].Destructive || got[2].ID != rt.ID || got[2].Counts != nil || got[2].Status != StatusPending {
			t.Fatalf("restore to original = %+v", got[2])
		}
		e.checkChain(t, "t1", 5)
		list := e.chainOf(t, "t1")
		for _, col := range []struct {
			pos int64
			set string
		}{
			{3, `items = '[{"id":"it-9"}]'`}, {3, `recipients = '["eve@evil.example"]'`}, {3, `item_count = 7`},
			{3, `idempotency_key = 'k2'`}, {4, `created_n = 2`}, {4, `failed_n = 0`}, {4, `bytes = 1`},
			{4, `sha256 = '` + strings.Repeat("cd", 32) + `'`}, {4, `has_counts = FALSE`}, {5, `destructive = FALSE`},
		} {
			r := list[col.pos-1]
			e.exec(t, `UPDATE restore_action SET `+col.set+` WHERE id = ?`, r.ID)
			if v := e.verify(t, "t1"); v.OK || deref(v.BrokenAt) != col.pos {
				t.Fatalf("after %s: %+v", col.set, v)
			}
			// Put the row back as it was, column by column.
			e.exec(t, `UPDATE restore_action SET items = ?, recipients = ?, item_count = ?, idempotency_key = ?, created_n = ?,
				failed_n = ?, bytes = ?, sha256 = ?, has_counts = ?, destructive = ? WHERE id = ?`, r.Items, r.Recipients, r.ItemCount,
				r.IdemKey, r.Counts.Created, r.Counts.Failed, r.Bytes, r.SHA256, r.HasCounts, r.Destructive, r.ID)
			if v := e.verify(t, "t1"); !v.OK {
				t.Fatalf("restored after %s: %+v", col.set, v)
			}
		}
	})
}

// A record with none of issue 25's fields hashes as it did before they existed: the fields
// added later are left out of the encoding when empty.
func TestEncodingLeavesEmptyFieldsOut(t *testing.T) {
	t.Parallel()
	r := record{ID: "x", Tenant: "t", Position: 1, Record: recBegin, Kind: KindBrowse, Status: StatusPending, AtNS: 5}
	before := string(r.encode())
	if strings.Contains(before, "items") || strings.Contains(before, "bytes") {
		t.Fatalf("empty fields encoded: %q", before)
	}
	r.Bytes = 1
	if string(r.encode()) == before {
		t.Fatal("bytes not encoded")
	}
	// Length prefixes keep field boundaries: moving text between neighbours changes the hash.
	a := record{Reason: "ab", Server: "c"}
	b := record{Reason: "a", Server: "bc"}
	if a.digest() == b.digest() {
		t.Fatal("ambiguous encoding")
	}
}

// A client retry with the same idempotency key returns the first action and ErrDuplicate, and
// appends nothing, even when the retries race; the key is per person.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		entry := Entry{Actor: alice, Kind: KindRestoreTo, GatewaySessionID: s.ID, Items: []Item{{ID: "i1"}}, Target: "mailbox:bob/Inbox",
			IdempotencyKey: "retry-me"}
		const n = 8
		var wg sync.WaitGroup
		ids := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := e.log.Begin(ctx, entry)
				ids[i], errs[i] = a.ID, err
			}()
		}
		wg.Wait()
		first := 0
		for i := range n {
			switch {
			case errs[i] == nil:
				first++
			case !errors.Is(errs[i], ErrDuplicate):
				t.Fatalf("call %d: %v", i, errs[i])
			}
			if ids[i] == "" || ids[i] != ids[0] {
				t.Fatalf("call %d answered %q, call 0 %q", i, ids[i], ids[0])
			}
		}
		if first != 1 {
			t.Fatalf("%d calls appended, want 1", first)
		}
		e.checkChain(t, "t1", 3)
		// Completed, the retry still answers the first action, with its outcome.
		if _, err := e.log.Complete(ctx, ids[0], Outcome{Status: StatusSucceeded, Counts: &Counts{Created: 1}}); err != nil {
			t.Fatal(err)
		}
		a, err := e.log.Begin(ctx, entry)
		if !errors.Is(err, ErrDuplicate) || a.ID != ids[0] || a.Status != StatusSucceeded || a.Counts.Created != 1 {
			t.Fatalf("retry after completion: %+v, %v", a, err)
		}
		// The same key for another kind of action is refused, not merged.
		other := entry
		other.Kind, other.Target = KindDownload, ""
		if _, err := e.log.Begin(ctx, other); !errors.Is(err, ErrKeyReused) {
			t.Fatalf("key reused for a download: %v", err)
		}
		// Another person (or the same name in another tenant) has keys of their own.
		for _, who := range []Actor{actor("t1", "bob"), actor("", "alice")} {
			en := entry
			en.Actor = who
			if b, err := e.log.Begin(ctx, en); err != nil || b.ID == ids[0] {
				t.Fatalf("%s/%s: %+v, %v", who.Tenant, who.Person, b, err)
			}
		}
		e.checkChain(t, "t1", 6)
	})
}

// An action needing approval waits (PENDING_APPROVAL) until another person of its tenant
// approves; the requester cannot, nor anyone after the deadline, nor twice; approval is an
// APPROVE record in the chain, and the action completes successfully only once approved.
func TestApproval(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice, bob := actor("t1", "alice"), actor("t1", "bob")
		bob.Role = "TENANT_ADMIN"
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		ask := func(until time.Duration) Action {
			t.Helper()
			a, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindRestoreToOriginal, GatewaySessionID: s.ID,
				Items: []Item{{ID: "i1"}}, ApprovalUntil: e.clk.Now().Add(until)})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		a := ask(time.Hour)
		if a.Status != StatusPendingApproval || a.ApprovalUntil == nil || !a.Destructive {
			t.Fatalf("begun = %+v", a)
		}
		waiting, err := e.log.AwaitingApproval(ctx, "t1", 0, 10)
		if err != nil || len(waiting) != 1 || waiting[0].ID != a.ID {
			t.Fatalf("awaiting = %+v, %v", waiting, err)
		}
		if _, err := e.log.Complete(ctx, a.ID, Outcome{Status: StatusSucceeded}); !errors.Is(err, ErrNotApproved) {
			t.Fatalf("completed before approval: %v", err)
		}
		for _, tc := range []struct {
			name string
			who  Actor
			want error
		}{
			{"requester", alice, ErrSelfApproval},
			{"another tenant", actor("t2", "mallory"), ErrNotFound},
			{"provider admin", actor("", "root"), ErrNotFound},
		} {
			if _, err := e.log.Approve(ctx, a.ID, tc.who); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		ok, err := e.log.Approve(ctx, a.ID, bob)
		if err != nil {
			t.Fatal(err)
		}
		if ok.Status != StatusPending || ok.Approval == nil || ok.Approval.Actor != bob {
			t.Fatalf("approved = %+v", ok)
		}
		if _, err := e.log.Approve(ctx, a.ID, actor("t1", "carol")); !errors.Is(err, ErrNotAwaitingApproval) {
			t.Fatalf("second approval: %v", err)
		}
		done, err := e.log.Complete(ctx, a.ID, Outcome{Status: StatusSucceeded, Counts: &Counts{Merged: 1}})
		if err != nil || done.Status != StatusSucceeded || done.Approval == nil {
			t.Fatalf("complete after approval: %+v, %v", done, err)
		}
		// The approval is in the session's steps, attributed to the approver.
		steps, _ := e.log.Actions(ctx, s.ID, 0, 10)
		if len(steps) != 3 || steps[2].Kind != KindApprove || steps[2].Actor != bob || steps[2].RefID != a.ID || steps[2].Status != StatusSucceeded {
			t.Fatalf("steps = %+v", steps)
		}
		// Expired, an action can no longer be approved; it can be closed as failed.
		late := ask(time.Minute)
		e.clk.Set(e.clk.Now().Add(2 * time.Minute))
		if _, err := e.log.Approve(ctx, late.ID, bob); !errors.Is(err, ErrApprovalExpired) {
			t.Fatalf("expired approval: %v", err)
		}
		if _, err := e.log.Complete(ctx, late.ID, Outcome{Status: StatusFailed, Error: "approval expired"}); err != nil {
			t.Fatal(err)
		}
		// An action that needs none cannot be approved.
		plain, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindDownload, GatewaySessionID: s.ID, Items: []Item{{ID: "i1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.log.Approve(ctx, plain.ID, bob); !errors.Is(err, ErrNotAwaitingApproval) {
			t.Fatalf("approval of a plain download: %v", err)
		}
		if waiting, _ := e.log.AwaitingApproval(ctx, "t1", 0, 10); len(waiting) != 0 {
			t.Fatalf("still awaiting: %+v", waiting)
		}
		// start 2 + asked 1 + approve 2 + outcome 1 + late 1 + its outcome 1 + download 1
		e.checkChain(t, "t1", 9)
		// An APPROVE record pointing at nothing is reported.
		e.exec(t, `UPDATE restore_action SET ref_id = 'gone' WHERE kind = 'APPROVE' AND record = 'BEGIN'`)
		if v := e.verify(t, "t1"); v.OK || deref(v.BrokenAt) != int64(4) {
			t.Fatalf("verify after retargeting the approval: %+v", v)
		}
	})
}

// Two admins approving at once: exactly one approval is recorded.
func TestConcurrentApprovals(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		a, err := e.log.Begin(ctx, Entry{Actor: alice, Kind: KindRestoreToOriginal, GatewaySessionID: s.ID,
			Items: []Item{{ID: "i1"}}, ApprovalUntil: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.log.Approve(ctx, a.ID, actor("t1", fmt.Sprintf("admin%d", i)))
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrNotAwaitingApproval):
				t.Fatal(err)
			}
		}
		if won != 1 {
			t.Fatalf("%d approvals succeeded", won)
		}
		e.checkChain(t, "t1", 5)
	})
}

func TestItemActionValidation(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		base := Entry{Actor: alice, Kind: KindDownload, GatewaySessionID: s.ID, Items: []Item{{ID: "i1"}}}
		many := make([]Item, maxItems+1)
		for i := range many {
			many[i].ID = fmt.Sprint(i)
		}
		for _, tc := range []struct {
			name string
			edit func(en *Entry)
		}{
			{"approve through Begin", func(en *Entry) { en.Kind = KindApprove }},
			{"send without recipients", func(en *Entry) { en.Kind = KindSend }},
			{"restore to without target", func(en *Entry) { en.Kind = KindRestoreTo }},
			{"item without id", func(en *Entry) { en.Items = []Item{{Name: "x"}} }},
			{"too many items", func(en *Entry) { en.Items = many }},
			// Each item within its limits, together megabytes in one record (and 500 of them in
			// one Actions page).
			{"items too large together", func(en *Entry) { en.Items = bulky(maxItems, maxTextBytes) }},
			{"recipients too large together", func(en *Entry) {
				en.Kind, en.Recipients = KindSend, make([]string, maxRecipients)
				for i := range en.Recipients {
					en.Recipients[i] = strings.Repeat("r", maxTextBytes-20) + fmt.Sprintf("%d@contoso.example", i)
				}
			}},
			{"empty recipient", func(en *Entry) { en.Kind, en.Recipients = KindSend, []string{""} }},
			{"items on a browse", func(en *Entry) { en.Kind = KindBrowse }},
			{"approval deadline past", func(en *Entry) { en.ApprovalUntil = t0.Add(-time.Hour) }},
		} {
			en := base
			tc.edit(&en)
			if _, err := e.log.Begin(ctx, en); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
			}
		}
		b, err := e.log.Begin(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []Outcome{
			{Status: StatusSucceeded, SHA256: "abc"},
			{Status: StatusSucceeded, SHA256: strings.Repeat("AB", 32)},
			{Status: StatusSucceeded, Bytes: -1},
			{Status: StatusPartial, Counts: &Counts{Failed: -1}},
			{Status: StatusPendingApproval},
		} {
			if _, err := e.log.Complete(ctx, b.ID, o); !errors.Is(err, ErrInvalid) {
				t.Errorf("outcome %+v: %v, want ErrInvalid", o, err)
			}
		}
		e.checkChain(t, "t1", 3)
	})
}

// A key reused for the same kind of step on the same session but other items, another target,
// other recipients or another destructiveness is not a retry: ErrKeyReused, never the first
// action's result standing in for a restore that was not done.
func TestIdempotencyKeyOtherRequest(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		alice := actor("t1", "alice")
		s := e.start(t, alice, "syd1", "org-1", "vbo-1")
		restore := Entry{Actor: alice, Kind: KindRestoreTo, GatewaySessionID: s.ID, Items: []Item{{ID: "i1"}},
			Target: "mailbox:bob/Inbox", IdempotencyKey: "k-restore"}
		send := Entry{Actor: alice, Kind: KindSend, GatewaySessionID: s.ID, Items: []Item{{ID: "i1"}},
			Recipients: []string{"bob@contoso.example"}, IdempotencyKey: "k-send"}
		for _, en := range []Entry{restore, send} {
			if _, err := e.log.Begin(ctx, en); err != nil {
				t.Fatal(err)
			}
		}
		for name, en := range map[string]Entry{
			"other items":      func() Entry { x := restore; x.Items = []Item{{ID: "i2"}}; return x }(),
			"more items":       func() Entry { x := restore; x.Items = []Item{{ID: "i1"}, {ID: "i2"}}; return x }(),
			"other target":     func() Entry { x := restore; x.Target = "mailbox:mallory/Inbox"; return x }(),
			"other recipients": func() Entry { x := send; x.Recipients = []string{"mallory@evil.example"}; return x }(),
			"destructive":      func() Entry { x := restore; x.Destructive = true; return x }(),
		} {
			if a, err := e.log.Begin(ctx, en); !errors.Is(err, ErrKeyReused) {
				t.Errorf("%s: %+v, %v; want ErrKeyReused", name, a, err)
			}
		}
		// The same request again is a retry.
		if _, err := e.log.Begin(ctx, restore); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("retry: %v", err)
		}
		e.checkChain(t, "t1", 4)
	})
}

// bulky is n items, each with a name of size bytes.
func bulky(n, size int) []Item {
	out := make([]Item, n)
	for i := range out {
		out[i] = Item{ID: fmt.Sprint(i), Name: strings.Repeat("n", size)}
	}
	return out
}
