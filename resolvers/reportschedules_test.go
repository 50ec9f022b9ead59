package resolvers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
)

// fakeSchedules keeps schedules in memory and records the calls that reach it.
type fakeSchedules struct {
	byID  map[string]*model.ReportSchedule
	calls []string
}

func (f *fakeSchedules) List(_ context.Context, o RuleOwners) ([]*model.ReportSchedule, error) {
	var out []*model.ReportSchedule
	for _, s := range f.byID {
		if o.All || s.Tenant != nil && *s.Tenant == o.Tenant {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeSchedules) Get(_ context.Context, id string) (*model.ReportSchedule, error) {
	if s, ok := f.byID[id]; ok {
		return s, nil
	}
	return nil, ErrNotFound
}

func (f *fakeSchedules) Create(_ context.Context, owner *string, _ string, in model.ReportScheduleInput) (*model.ReportScheduleCreated, error) {
	f.calls = append(f.calls, "create")
	return &model.ReportScheduleCreated{Schedule: &model.ReportSchedule{ID: "new", Name: in.Name, Tenant: owner}}, nil
}

func (f *fakeSchedules) Update(_ context.Context, id string, _ model.ReportScheduleInput) (*model.ReportSchedule, error) {
	f.calls = append(f.calls, "update "+id)
	return f.byID[id], nil
}

func (f *fakeSchedules) Delete(_ context.Context, id string) (bool, error) {
	f.calls = append(f.calls, "delete "+id)
	return true, nil
}

func (f *fakeSchedules) RunNow(_ context.Context, id string) (*model.ReportRun, error) {
	f.calls = append(f.calls, "run "+id)
	return &model.ReportRun{}, nil
}

func (f *fakeSchedules) Runs(_ context.Context, id string, _ int, _ string) (*model.ReportRunConnection, error) {
	f.calls = append(f.calls, "runs "+id)
	return &model.ReportRunConnection{PageInfo: &model.PageInfo{}}, nil
}

// Another tenant's schedule reads exactly like a missing one (NOT_FOUND) for every operation,
// and nothing reaches the store for it; the list holds only the caller's tenant's.
func TestReportScheduleIsolation(t *testing.T) {
	t1, t2 := "t1", "t2"
	f := &fakeSchedules{byID: map[string]*model.ReportSchedule{
		"s1": {ID: "s1", Name: "mine", Tenant: &t1},
		"s2": {ID: "s2", Name: "theirs", Tenant: &t2},
		"sp": {ID: "sp", Name: "provider's"},
	}}
	r := &Resolver{Reports: f}
	m, q, rs := &mutationResolver{r}, &queryResolver{r}, &reportScheduleResolver{r}
	ctx := auth.WithPrincipal(context.Background(), auth.NewTenantAdmin("a", "t1", []auth.OrgRef{{Server: "syd1", OrgID: "o1"}}))
	in := model.ReportScheduleInput{Name: "x", Every: model.ReportPeriodDay, TimeZone: "UTC"}
	for _, id := range []string{"s2", "sp", "missing"} {
		ops := map[string]func() error{
			"update": func() error { _, err := m.UpdateReportSchedule(ctx, id, in); return err },
			"delete": func() error { _, err := m.DeleteReportSchedule(ctx, id); return err },
			"run":    func() error { _, err := m.RunReportScheduleNow(ctx, id); return err },
		}
		for name, op := range ops {
			if err := op(); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s %s: %v, want NOT_FOUND", name, id, err)
			}
		}
	}
	if _, err := rs.Runs(ctx, f.byID["s2"], nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("runs of t2's schedule: %v, want NOT_FOUND", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("calls reached the store for invisible schedules: %v", f.calls)
	}
	list, err := q.ReportSchedules(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "s1" {
		t.Errorf("t1 lists %v, %v; want only s1", list, err)
	}
	created, err := m.CreateReportSchedule(ctx, in)
	if err != nil || created.Schedule.Tenant == nil || *created.Schedule.Tenant != "t1" {
		t.Errorf("t1's schedule is owned by %v (%v), want t1", created, err)
	}
	// A tenant auditor reads its tenant's schedules but may not change them.
	aud := auth.WithPrincipal(context.Background(), auth.NewTenantAuditor("b", "t1", nil))
	if _, err := m.DeleteReportSchedule(aud, "s1"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("auditor deletes: %v, want a role error", err)
	} else if want := "your role (TENANT_AUDITOR) may not manage this report schedule: it needs TENANT_ADMIN or PROVIDER_ADMIN"; err.Error() != want {
		t.Errorf("auditor deletes: %q, want %q", err, want)
	}
	// The provider's schedule needs a provider admin (a tenant admin does not even see it).
	admin := auth.WithPrincipal(context.Background(), auth.NewAdmin("ops"))
	if _, err := m.DeleteReportSchedule(admin, "sp"); err != nil {
		t.Errorf("provider admin deletes the provider's: %v", err)
	}
}

// Grouping by TENANT is the provider's: a tenant admin's schedule asking it is refused with the
// role needed, a provider admin may not give it to a tenant's schedule (its report is made as
// the tenant), and the provider's own schedule takes it. Nothing refused reaches the store.
func TestReportScheduleGroupByTenant(t *testing.T) {
	t.Parallel()
	t1 := "t1"
	byTenant := []model.RestoreAuditDimension{model.RestoreAuditDimensionDay, model.RestoreAuditDimensionTenant}
	in := model.ReportScheduleInput{Name: "x", Every: model.ReportPeriodDay, TimeZone: "UTC", GroupBy: byTenant}
	tenantAdmin := auth.WithPrincipal(context.Background(), auth.NewTenantAdmin("a", "t1", []auth.OrgRef{{Server: "syd1", OrgID: "o1"}}))
	providerAdmin := auth.WithPrincipal(context.Background(), auth.NewAdmin("ops"))
	tests := []struct {
		name string
		op   func(m *mutationResolver) error
		code string
		msg  string
		call string
	}{
		{"tenant admin creates", func(m *mutationResolver) error { _, err := m.CreateReportSchedule(tenantAdmin, in); return err },
			CodeForbidden, "your role (TENANT_ADMIN) may not group the restore audit by TENANT: it needs PROVIDER_ADMIN", ""},
		{"tenant admin updates its own", func(m *mutationResolver) error { _, err := m.UpdateReportSchedule(tenantAdmin, "s1", in); return err },
			CodeForbidden, "your role (TENANT_ADMIN) may not group the restore audit by TENANT: it needs PROVIDER_ADMIN", ""},
		{"provider admin updates a tenant's", func(m *mutationResolver) error { _, err := m.UpdateReportSchedule(providerAdmin, "s1", in); return err },
			CodeBadUserInput, "groupBy: TENANT is for the provider's schedules only (a tenant's report covers one tenant)", ""},
		{"provider admin creates the provider's", func(m *mutationResolver) error { _, err := m.CreateReportSchedule(providerAdmin, in); return err },
			"", "", "create"},
		{"provider admin updates the provider's", func(m *mutationResolver) error { _, err := m.UpdateReportSchedule(providerAdmin, "sp", in); return err },
			"", "", "update sp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSchedules{byID: map[string]*model.ReportSchedule{"s1": {ID: "s1", Tenant: &t1}, "sp": {ID: "sp"}}}
			err := tt.op(&mutationResolver{&Resolver{Reports: f}})
			if code, msg := Classify(err); tt.code != "" && (code != tt.code || msg != tt.msg) {
				t.Errorf("%s %q, want %s %q", code, msg, tt.code, tt.msg)
			}
			if tt.code == "" && err != nil {
				t.Errorf("refused: %v", err)
			}
			if got := fmt.Sprint(f.calls); got != fmt.Sprint(slices.DeleteFunc([]string{tt.call}, func(s string) bool { return s == "" })) {
				t.Errorf("store calls %s, want %q", got, tt.call)
			}
		})
	}
}
