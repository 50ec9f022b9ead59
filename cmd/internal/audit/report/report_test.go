package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/match"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

func TestEscapeCell(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain", "plain", "plain"},
		{"equals", "=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"},
		{"plus", "+1+1", "'+1+1"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"leading tab", "\tTAB", " TAB"},
		{"tab then formula", "\t=1", " '=1"},
		{"leading CR", "\rCR", " CR"},
		{"spaces then formula", "  =1", "  '=1"},
		{"inside", "a=b", "a=b"},
		{"after semicolon", "PC1;@SUM(1)", "PC1;'@SUM(1)"},
		{"after comma", "x,=cmd|' /C calc'!A0", "x,'=cmd|' /C calc'!A0"},
		{"after pipe and spaces", "a | -1", "a | '-1"},
		{"after tab (a tab is a space now: nothing splits there)", "a\t+1", "a +1"},
		{"after several separators", "a;;=1,@2", "a;;'=1,'@2"},
		{"already quoted", "a;'=1", "a;'=1"},
		{"RFC 3339", "2026-05-01T00:00:00Z", "2026-05-01T00:00:00Z"},
		{"bidi override", "evil\u202Etxt.exe", "eviltxt.exe"},
		{"bidi isolates and marks", "\u2066a\u2069\u200Eb\u200F\u061C", "ab"},
		{"ANSI colour", "\x1b[31mred\x1b[0m", "red"},
		{"ANSI clear screen", "x\x1b[2Jy", "xy"},
		{"lone ESC", "a\x1bb", "ab"},
		{"unterminated CSI", "a\x1b[12", "a"},
		{"C1 CSI", "a\u009b31mb", "a31mb"},
		{"NUL and BEL and DEL", "a\x00b\x07c\x7f", "abc"},
		{"line breaks", "two\nlines\r\nand\u2028more", "two lines  and more"},
		{"zero width and BOM", "a\u200Bb\uFEFFc", "abc"},
		{"joiners kept", "\U0001F469\u200D\U0001F4BB", "\U0001F469\u200D\U0001F4BB"},
		{"invalid UTF-8", "bad\xffutf8", "bad\uFFFDutf8"},
		{"umlaut", "Zürich", "Zürich"},
		{"formula after stripped bidi", "\u202E=1", "'=1"},
	}
	for _, tt := range tests {
		if got := EscapeCell(tt.in); got != tt.want {
			t.Errorf("%s: EscapeCell(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
		checkCell(t, tt.in, EscapeCell(tt.in))
	}
}

// checkCell fails t unless out, EscapeCell's answer for in, is safe: valid UTF-8, no control
// or bidirectional control character, no formula at the start of the cell or after a
// separator (spaces aside), and a fixed point (escaping it again changes nothing).
func checkCell(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("EscapeCell(%q) = %q: invalid UTF-8", in, out)
	}
	start := true
	for _, r := range out {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			t.Fatalf("EscapeCell(%q) = %q: holds %U", in, out, r)
		}
		switch {
		case strings.ContainsRune(",;|", r):
			start = true
		case unicode.IsSpace(r):
		case start && strings.ContainsRune("=+-@", r):
			t.Fatalf("EscapeCell(%q) = %q: a formula starts at %q", in, out, r)
		default:
			start = false
		}
	}
	if again := EscapeCell(out); again != out {
		t.Fatalf("EscapeCell(%q) = %q, but escaping that again gives %q", in, out, again)
	}
}

// FuzzEscapeCell: whatever a session's fields hold, the cell is safe (see checkCell).
func FuzzEscapeCell(f *testing.F) {
	for _, s := range []string{"", "plain", "=1", "PC1;@SUM(1)", "a | -1", "\x1b[31mred", "evil\u202Etxt", "\t=1", "bad\xff",
		"a\x1b[", "\u009b", "x,\u202E=1", "a;\u200B@1", "'=1", " \u00a0-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkCell(t, s, EscapeCell(s)) })
}

func TestCSVWriterIsRFC4180(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSVWriter(&buf)
	rows := [][]string{{"a", "b"}, {"with,comma", "with \"quote\""}, {"two\nlines", "=1+1"}}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "a,b\r\n\"with,comma\",\"with \"\"quote\"\"\"\r\ntwo lines,'=1+1\r\n"
	if buf.String() != want {
		t.Fatalf("CSV:\n%q\nwant\n%q", buf.String(), want)
	}
	got, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	if err != nil || len(got) != 3 || got[1][1] != "with \"quote\"" || got[2][1] != "'=1+1" {
		t.Fatalf("read back %q (%v)", got, err)
	}
}

// randomSessions makes sessions over a few values of every dimension.
func randomSessions(n int, seed uint64) []*match.Session {
	r := rand.New(rand.NewPCG(seed, seed))
	users := []string{"CONTOSO\\alice", "CONTOSO\\bob", "=cmd|' /C calc'!A0", ""}
	hosts := []string{"PC1 (via: 198.51.100.7)", "PC1", "PC2 (via: 2001:db8::1)", "", "+SUM(1)"}
	orgs := []struct{ server, id, name string }{{"syd1", "o1", "Contoso"}, {"syd1", "o2", "Fabrikam"}, {"mel1", "o1", "Contoso"}, {"mel1", "", "Gone Ltd"}}
	types := []upstream.RestoreSessionType{upstream.SessionTypeExchange, upstream.SessionTypeOneDrive, upstream.SessionTypeSharePoint, upstream.SessionTypeTeams}
	results := []upstream.RestoreSessionResult{upstream.SessionResultSuccess, upstream.SessionResultWarning, upstream.SessionResultFailed}
	base := time.Date(2025, 1, 30, 0, 0, 0, 0, time.UTC)
	out := make([]*match.Session, n)
	for i := range out {
		o := orgs[r.IntN(len(orgs))]
		out[i] = &match.Session{
			Server: o.server, OrgID: o.id, OrgName: o.name,
			Upstream: upstream.RestoreSession{
				ID: fmt.Sprintf("s%d", i), Type: types[r.IntN(len(types))], Result: results[r.IntN(len(results))],
				State: upstream.SessionStateStopped, CreationTime: base.Add(time.Duration(r.IntN(5*24*3600)) * time.Second),
				InitiatedBy: users[r.IntN(len(users))], ClientHost: hosts[r.IntN(len(hosts))],
			},
			Items: int64(r.IntN(50)), Bytes: int64(r.IntN(1 << 30)),
		}
	}
	return out
}

type totals struct{ sessions, items, bytes, failed int64 }

// testTenants owns randomSessions' organisations as a tenant directory would: tenant-a has
// Contoso on both servers, tenant-b Fabrikam; the detached organisation is no tenant's.
var testTenants = map[[2]string]string{{"syd1", "o1"}: "tenant-a", {"mel1", "o1"}: "tenant-a", {"syd1", "o2"}: "tenant-b"}

// testTenantOf is testTenants as a resolvers.TenantOf (ids compare ignoring case).
func testTenantOf(server, orgID string) (string, bool) {
	t, ok := testTenants[[2]string{server, strings.ToLower(orgID)}]
	return t, ok
}

// groundTruth groups by one dimension the obvious way.
func groundTruth(ss []*match.Session, d Dimension) map[string]totals {
	out := map[string]totals{}
	for _, s := range ss {
		var k string
		ch := upstream.ParseClientHost(s.Upstream.ClientHost)
		switch d {
		case ByTenant:
			k, _ = testTenantOf(s.Server, s.OrgID)
		case ByInitiatedBy:
			k = s.Upstream.InitiatedBy
		case ByClientMachine:
			k = ch.MachineName
		case ByViaAddress:
			k = ch.ViaAddress
		case ByOrganization:
			k = s.OrgGlobalID()
		case ByType:
			k = string(model.SessionTypeFromVBO(s.Upstream.Type))
		case ByResult:
			k = string(model.SessionResultFromVBO(s.Upstream.Result))
		case ByDay:
			k = s.Upstream.CreationTime.UTC().Format("2006-01-02")
		}
		t := out[k]
		t.sessions++
		t.items += s.Items
		t.bytes += s.Bytes
		if s.Upstream.Result == upstream.SessionResultFailed {
			t.failed++
		}
		out[k] = t
	}
	return out
}

func rowKey(r Row, d Dimension) string {
	switch d {
	case ByTenant:
		if r.Tenant == nil {
			return ""
		}
		return *r.Tenant
	case ByInitiatedBy:
		return *r.InitiatedBy
	case ByClientMachine:
		return *r.ClientMachine
	case ByViaAddress:
		return *r.ViaAddress
	case ByOrganization:
		return r.Organization.ID
	case ByType:
		return string(*r.Type)
	case ByResult:
		return string(*r.Result)
	case ByDay:
		return *r.Day
	}
	return ""
}

func TestAggregatorMatchesGroundTruthPerDimension(t *testing.T) {
	ss := randomSessions(2000, 7)
	for _, d := range AllDimensions {
		t.Run(string(d), func(t *testing.T) {
			a, err := NewAggregator([]Dimension{d}, testTenantOf)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				a.Add(s)
			}
			rows, err := a.Rows()
			if err != nil {
				t.Fatal(err)
			}
			want := groundTruth(ss, d)
			if len(rows) != len(want) {
				t.Fatalf("%d rows, want %d", len(rows), len(want))
			}
			for _, r := range rows {
				k := rowKey(r, d)
				w := want[k]
				if got := (totals{r.Sessions, r.Items, r.Bytes, r.FailedSessions}); got != w {
					t.Errorf("%s=%q: %+v, want %+v", d, k, got, w)
				}
				// Every other dimension is null.
				for _, other := range AllDimensions {
					if other != d && isSet(r, other) {
						t.Errorf("%s=%q: %s is set", d, k, other)
					}
				}
			}
		})
	}
}

func isSet(r Row, d Dimension) bool {
	switch d {
	case ByTenant:
		return r.Tenant != nil
	case ByInitiatedBy:
		return r.InitiatedBy != nil
	case ByClientMachine:
		return r.ClientMachine != nil
	case ByViaAddress:
		return r.ViaAddress != nil
	case ByOrganization:
		return r.Organization != nil
	case ByType:
		return r.Type != nil
	case ByResult:
		return r.Result != nil
	case ByDay:
		return r.Day != nil
	}
	return false
}

func TestAggregatorCombinationsSumToTotal(t *testing.T) {
	ss := randomSessions(500, 11)
	total, _ := NewAggregator(nil, nil)
	for _, s := range ss {
		total.Add(s)
	}
	tr, _ := total.Rows()
	if len(tr) != 1 || tr[0].Sessions != 500 {
		t.Fatalf("total rows %+v", tr)
	}
	a, _ := NewAggregator([]Dimension{ByOrganization, ByDay, ByResult}, nil)
	for _, s := range ss {
		a.Add(s)
	}
	rows, _ := a.Rows()
	var sum totals
	for i, r := range rows {
		sum.sessions += r.Sessions
		sum.items += r.Items
		sum.bytes += r.Bytes
		sum.failed += r.FailedSessions
		if r.First.After(r.Last) {
			t.Errorf("row %d: first after last", i)
		}
		if *r.Day != r.First.Format("2006-01-02") || *r.Day != r.Last.Format("2006-01-02") {
			t.Errorf("row %d: day %s vs first %v last %v", i, *r.Day, r.First, r.Last)
		}
	}
	if want := (totals{tr[0].Sessions, tr[0].Items, tr[0].Bytes, tr[0].FailedSessions}); sum != want {
		t.Fatalf("grouped sum %+v != total %+v", sum, want)
	}
	if tr[0].First.After(rows[0].First) {
		t.Fatal("total first is not the earliest")
	}
}

func TestAggregatorRefusesBadDimensionsAndBoundsRows(t *testing.T) {
	for _, dims := range [][]Dimension{{"COLOUR"}, {ByDay, ByDay}} {
		if _, err := NewAggregator(dims, testTenantOf); err == nil {
			t.Errorf("NewAggregator(%v) accepted", dims)
		}
	}
	if _, err := NewAggregator([]Dimension{ByTenant}, nil); !errors.Is(err, ErrNoTenants) {
		t.Errorf("TENANT without a directory: %v, want ErrNoTenants", err)
	}
	a, _ := NewAggregator([]Dimension{ByInitiatedBy}, nil)
	s := &match.Session{Server: "syd1", OrgID: "o", OrgName: "O"}
	for i := range MaxRows + 1 {
		s.Upstream.InitiatedBy = fmt.Sprint(i)
		a.Add(s)
	}
	if _, err := a.Rows(); !errors.Is(err, ErrTooManyRows) {
		t.Fatalf("Rows = %v, want ErrTooManyRows", err)
	}
}

// CSV cells equal the row values, and formula-looking values are escaped.
func TestRecordsEscapeFormulas(t *testing.T) {
	ss := randomSessions(300, 3)
	a, _ := NewAggregator(AllDimensions, testTenantOf)
	for _, s := range ss {
		a.Add(s)
	}
	rows, _ := a.Rows()
	var buf bytes.Buffer
	w := NewCSVWriter(&buf)
	_ = w.Write(Header)
	for i := range rows {
		_ = w.Write(rows[i].Record(false))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(rows)+1 {
		t.Fatalf("%d records, want %d", len(recs), len(rows)+1)
	}
	sawFormula := false
	for i, rec := range recs[1:] {
		for j, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d col %s: unescaped %q", i, Header[j], cell)
			}
		}
		if *rows[i].InitiatedBy == "=cmd|' /C calc'!A0" {
			sawFormula = true
			if rec[0] != "'=cmd|' /C calc'!A0" {
				t.Errorf("initiatedBy cell %q", rec[0])
			}
		}
		if rec[9] != fmt.Sprint(rows[i].Sessions) || rec[11] != fmt.Sprint(rows[i].Bytes) {
			t.Errorf("row %d: numbers %v vs %+v", i, rec[9:13], rows[i])
		}
	}
	if !sawFormula {
		t.Fatal("test data lacks the formula value")
	}
	d := DetailRecord(ss[0])
	if len(d) != len(DetailHeader) || d[0] != ss[0].ID() {
		t.Fatalf("detail record %v", d)
	}
}

// Grouped by TENANT, the CSV gets a leading tenant column (empty for no tenant), also when
// there are no rows; otherwise its header and cells are what they always were.
func TestWriteCSVTenantColumn(t *testing.T) {
	t.Parallel()
	a, _ := NewAggregator([]Dimension{ByTenant, ByOrganization}, testTenantOf)
	for _, s := range randomSessions(200, 5) {
		a.Add(s)
	}
	rows, _ := a.Rows()
	models := make([]*model.RestoreAuditRow, len(rows))
	for i := range rows {
		models[i] = RowModel(&rows[i])
	}
	tenant := []model.RestoreAuditDimension{model.RestoreAuditDimensionTenant, model.RestoreAuditDimensionOrganization}
	read := func(groupBy []model.RestoreAuditDimension, rows []*model.RestoreAuditRow) [][]string {
		t.Helper()
		var buf bytes.Buffer
		if err := WriteCSV(&buf, groupBy, rows); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	recs := read(tenant, models)
	if strings.Join(recs[0], ",") != "tenant,"+strings.Join(Header, ",") || len(recs) != len(rows)+1 {
		t.Fatalf("header %q, %d records for %d rows", recs[0], len(recs), len(rows))
	}
	seen := map[string]bool{}
	for i, r := range rows {
		rec := recs[i+1]
		want := ""
		if r.Tenant != nil {
			want = *r.Tenant
		}
		if rec[0] != want || rec[4] != r.Organization.ID || rec[10] != fmt.Sprint(r.Sessions) {
			t.Errorf("row %d: %q, want tenant %q org %s sessions %d", i, rec, want, r.Organization.ID, r.Sessions)
		}
		seen[rec[0]] = true
	}
	if !seen[""] || !seen["tenant-a"] || !seen["tenant-b"] {
		t.Errorf("tenants seen %v", seen)
	}
	if got := read(tenant, nil); len(got) != 1 || got[0][0] != "tenant" {
		t.Errorf("no rows: %q", got)
	}
	if got := read([]model.RestoreAuditDimension{model.RestoreAuditDimensionOrganization}, nil); strings.Join(got[0], ",") != strings.Join(Header, ",") {
		t.Errorf("not grouped by TENANT: header %q", got[0])
	}
}
