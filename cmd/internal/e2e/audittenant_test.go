package e2e_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/demo"
)

// TestRestoreAuditByTenant: a provider admin's restoreAudit grouped by TENANT holds one row per
// demo tenant whose totals are that tenant's own ungrouped report, and a null-tenant row for the
// organisations no tenant owns; the rows add up to the admin's total. The CSV export grouped by
// TENANT leads with a tenant column holding the same rows. A tenant's auditor or admin asking
// either is FORBIDDEN, naming the role needed.
func TestRestoreAuditByTenant(t *testing.T) {
	t.Parallel()
	_, gw := watchGateway(t, 40, nil)
	waitBackfill(t, gw)
	from := time.Now().UTC().AddDate(0, 0, -99).Format(time.RFC3339)
	to := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	const q = `query($from: DateTime!, $to: DateTime!, $g: [RestoreAuditDimension!]!) {
		restoreAudit(from: $from, to: $to, groupBy: $g) { rows { tenant organization { id } sessions items bytes failedSessions first last } } }`
	type row struct {
		Tenant                                 *string
		Organization                           *struct{ ID string }
		Sessions, Items, Bytes, FailedSessions int
		First, Last                            string
	}
	report := func(key string, groupBy ...string) []row {
		var out struct{ RestoreAudit struct{ Rows []row } }
		if groupBy == nil {
			groupBy = []string{}
		}
		mustPost(t, gw, key, q, map[string]any{"from": from, "to": to, "g": groupBy}, &out)
		return out.RestoreAudit.Rows
	}
	sum := func(rows []row) auditTruth {
		var x auditTruth
		for _, r := range rows {
			x.sessions += r.Sessions
			x.items += r.Items
			x.bytes += r.Bytes
			x.failed += r.FailedSessions
		}
		return x
	}
	// The archive completes backfilled sessions' events as it goes: ask until the reports agree.
	var byTenant []row
	var got, want string
	waitFor(t, 60*time.Second, func() bool {
		byTenant = report(demo.AdminKey, "TENANT")
		gotM, wantM := map[string]auditTruth{}, map[string]auditTruth{}
		for _, r := range byTenant {
			gotM[str(r.Tenant)] = sum([]row{r})
		}
		var owned auditTruth
		for n := 1; n <= demo.Tenants; n++ {
			own := sum(report(demo.TenantKey(n)))
			wantM[fmt.Sprintf("tenant-%d", n)] = own
			owned.sessions, owned.items, owned.bytes, owned.failed = owned.sessions+own.sessions, owned.items+own.items,
				owned.bytes+own.bytes, owned.failed+own.failed
		}
		total := sum(report(demo.AdminKey))
		wantM[""] = auditTruth{total.sessions - owned.sessions, total.items - owned.items, total.bytes - owned.bytes, total.failed - owned.failed}
		got, want = fmt.Sprint(gotM), fmt.Sprint(wantM)
		return got == want && len(byTenant) == demo.Tenants+1
	}, lazy(func() string { return fmt.Sprintf("rows by tenant:\n got %s\nwant %s", got, want) }))
	for i, r := range byTenant {
		if r.Organization != nil {
			t.Errorf("row %d: organisation set though not grouped by", i)
		}
		if r.Sessions == 0 {
			t.Errorf("row %d (%s): no sessions: the demo gives every tenant some", i, str(r.Tenant))
		}
	}
	if byTenant[0].Tenant != nil {
		t.Errorf("the null tenant's row is not first: %v", str(byTenant[0].Tenant))
	}

	// The CSV export holds the same rows, led by the tenant.
	v := url.Values{"from": {from}, "to": {to}, "groupBy": {"TENANT"}}
	recs := exportCSV(t, gw, demo.AdminKey, "/export/restore-audit.csv", v)
	if len(recs) != len(byTenant)+1 || recs[0][0] != "tenant" || recs[0][1] != "initiatedBy" {
		t.Fatalf("CSV: header %q, %d records for %d rows", recs[0], len(recs), len(byTenant))
	}
	for i, r := range byTenant {
		rec := recs[i+1]
		if rec[0] != str(r.Tenant) || rec[10] != fmt.Sprint(r.Sessions) || rec[11] != fmt.Sprint(r.Items) || rec[12] != fmt.Sprint(r.Bytes) {
			t.Errorf("CSV row %d = %q, GraphQL %+v", i, rec, r)
		}
	}
	// Without TENANT the CSV has no tenant column.
	if recs := exportCSV(t, gw, demo.AdminKey, "/export/restore-audit.csv", url.Values{"from": {from}, "to": {to}}); recs[0][0] != "initiatedBy" {
		t.Errorf("CSV not grouped by TENANT: header %q", recs[0])
	}

	// A tenant may not ask for it, in GraphQL or as a CSV.
	for _, tc := range []struct{ key, role string }{{demo.TenantKey(1), "TENANT_AUDITOR"}, {demo.TenantAdminKey(2), "TENANT_ADMIN"}} {
		res := post(t, gw, tc.key, q, map[string]any{"from": from, "to": to, "g": []string{"DAY", "TENANT"}})
		wantMsg := "your role (" + tc.role + ") may not group the restore audit by TENANT: it needs PROVIDER_ADMIN"
		if res.code() != "FORBIDDEN" || res.Errors[0].Message != wantMsg {
			t.Errorf("%s: %+v, want FORBIDDEN %q", tc.key, res.Errors, wantMsg)
		}
		if strings.Contains(string(res.Data), "sessions") {
			t.Errorf("%s: data beside the refusal: %s", tc.key, res.Data)
		}
		if code := exportStatus(gw, tc.key, "/export/restore-audit.csv", v); code != http.StatusForbidden {
			t.Errorf("%s: CSV by TENANT: status %d, want 403", tc.key, code)
		}
		// Their own report still works.
		if rows := report(tc.key, "DAY"); !slices.ContainsFunc(rows, func(r row) bool { return r.Sessions > 0 }) {
			t.Errorf("%s: its own report is empty", tc.key)
		}
	}
}
