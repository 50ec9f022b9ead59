package authn_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/edge/authn"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/resolvers/auth"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// fakeOrgs is an OrgLister over fixed data whose answers and failures tests can change.
type fakeOrgs struct {
	mu    sync.Mutex
	orgs  map[string][]upstream.Organization
	fail  map[string]error
	calls map[string]int
}

func newFakeOrgs() *fakeOrgs {
	return &fakeOrgs{
		orgs: map[string][]upstream.Organization{
			"syd1": {{ID: "11111111-AAAA-0000-0000-000000000001", Name: "Contoso"}, {ID: "11111111-aaaa-0000-0000-000000000002", Name: "Fabrikam"}},
			"mel1": {{ID: "22222222-bbbb-0000-0000-000000000001", Name: "Northwind"}},
		},
		fail:  map[string]error{},
		calls: map[string]int{},
	}
}

func (f *fakeOrgs) list(_ context.Context, server string) ([]upstream.Organization, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[server]++
	if err := f.fail[server]; err != nil {
		return nil, err
	}
	orgs, ok := f.orgs[server]
	if !ok {
		return nil, errors.New("unknown server " + server)
	}
	return slices.Clone(orgs), nil
}

func (f *fakeOrgs) set(fn func(f *fakeOrgs)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeOrgs) callCount(server string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[server]
}

func captureLogger() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustOrgs(t *testing.T, d *authn.Directory, tenant string) []auth.OrgRef {
	t.Helper()
	refs, ok := d.Orgs(tenant)
	if !ok {
		t.Fatalf("tenant %s unknown to the directory", tenant)
	}
	return refs
}

func TestDirectoryResolvesNamesToIDs(t *testing.T) {
	f := newFakeOrgs()
	tenants := []config.Tenant{
		{ID: "t1", Organizations: []config.TenantOrg{
			{Server: "syd1", Name: "contoso"}, // names match case-insensitively
			{Server: "mel1", Name: "Northwind"},
		}},
		{ID: "t2", Organizations: []config.TenantOrg{
			{Server: "syd1", ID: "11111111-AAAA-0000-0000-000000000002"}, // by id: no listing needed
		}},
		{ID: "t-empty"},
	}
	d := authn.NewDirectory(tenants, f.list, false, slog.New(slog.DiscardHandler))
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	want := []auth.OrgRef{
		{Server: "syd1", OrgID: "11111111-aaaa-0000-0000-000000000001"},
		{Server: "mel1", OrgID: "22222222-bbbb-0000-0000-000000000001"},
	}
	if got := mustOrgs(t, d, "t1"); !slices.Equal(got, want) {
		t.Errorf("t1 = %v, want %v", got, want)
	}
	if got := mustOrgs(t, d, "t2"); !slices.Equal(got, []auth.OrgRef{{Server: "syd1", OrgID: "11111111-aaaa-0000-0000-000000000002"}}) {
		t.Errorf("t2 = %v", got)
	}
	if got := mustOrgs(t, d, "t-empty"); len(got) != 0 {
		t.Errorf("t-empty = %v, want none", got)
	}
	if _, ok := d.Orgs("nobody"); ok {
		t.Error("unknown tenant reported as known")
	}
	// One listing per server, however many organisations are named on it.
	if n := f.callCount("syd1"); n != 1 {
		t.Errorf("syd1 listed %d times, want 1", n)
	}

	// The principal built from it sees exactly those organisations.
	p := auth.NewTenantAuditor("s", "t1", mustOrgs(t, d, "t1"))
	if !p.CanSeeOrg("syd1", "11111111-AAAA-0000-0000-000000000001") || p.CanSeeOrg("syd1", "11111111-aaaa-0000-0000-000000000002") {
		t.Error("t1 principal scope wrong")
	}
}

func TestDirectoryBeforeRefreshKnowsNoTenant(t *testing.T) {
	d := authn.NewDirectory([]config.Tenant{{ID: "t1"}}, newFakeOrgs().list, false, nil)
	if _, ok := d.Orgs("t1"); ok {
		t.Fatal("tenant known before the first Refresh")
	}
}

func TestDirectoryUnknownOrgNameIsAnError(t *testing.T) {
	f := newFakeOrgs()
	tenants := []config.Tenant{{ID: "t1", Organizations: []config.TenantOrg{
		{Server: "syd1", Name: "Contoso"}, {Server: "syd1", Name: "Globex"},
	}}}
	d := authn.NewDirectory(tenants, f.list, false, slog.New(slog.DiscardHandler))
	err := d.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Globex") {
		t.Fatalf("Refresh error = %v, want one naming Globex", err)
	}
	if _, ok := d.Orgs("t1"); ok {
		t.Fatal("a failed first refresh must not install a mapping")
	}
}

func TestDirectoryUnknownServerIsAnError(t *testing.T) {
	tenants := []config.Tenant{{ID: "t1", Organizations: []config.TenantOrg{{Server: "nowhere", Name: "Contoso"}}}}
	d := authn.NewDirectory(tenants, newFakeOrgs().list, false, slog.New(slog.DiscardHandler))
	if err := d.Refresh(context.Background()); err == nil {
		t.Fatal("unknown server resolved without error")
	}
}

func TestDirectoryAllowMissingLogsAndOmits(t *testing.T) {
	f := newFakeOrgs()
	logger, logs := captureLogger()
	tenants := []config.Tenant{{ID: "t1", Organizations: []config.TenantOrg{
		{Server: "syd1", Name: "Contoso"}, {Server: "syd1", Name: "Globex"}, {Server: "nowhere", Name: "X"},
	}}}
	d := authn.NewDirectory(tenants, f.list, true, logger)
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh with allowMissing: %v", err)
	}
	want := []auth.OrgRef{{Server: "syd1", OrgID: "11111111-aaaa-0000-0000-000000000001"}}
	if got := mustOrgs(t, d, "t1"); !slices.Equal(got, want) {
		t.Fatalf("t1 = %v, want %v", got, want)
	}
	if l := logs.String(); !strings.Contains(l, "Globex") || !strings.Contains(l, "nowhere") {
		t.Fatalf("log does not name the missing organisations:\n%s", l)
	}

	// A later refresh picks the organisation up once it exists.
	f.set(func(f *fakeOrgs) {
		f.orgs["syd1"] = append(f.orgs["syd1"], upstream.Organization{ID: "11111111-aaaa-0000-0000-000000000003", Name: "Globex"})
	})
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatalf("second Refresh: %v", err)
	}
	if got := mustOrgs(t, d, "t1"); len(got) != 2 || got[1].OrgID != "11111111-aaaa-0000-0000-000000000003" {
		t.Fatalf("after the organisation appeared: %v", got)
	}
}

func TestDirectoryRefreshKeepsOldMappingOnError(t *testing.T) {
	f := newFakeOrgs()
	tenants := []config.Tenant{{ID: "t1", Organizations: []config.TenantOrg{{Server: "syd1", Name: "Contoso"}}}}
	d := authn.NewDirectory(tenants, f.list, false, slog.New(slog.DiscardHandler))
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := mustOrgs(t, d, "t1")

	// Listing fails: error, old mapping stays.
	f.set(func(f *fakeOrgs) { f.fail["syd1"] = errors.New("connection refused") })
	if err := d.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh with a failing server returned nil")
	}
	if got := mustOrgs(t, d, "t1"); !slices.Equal(got, before) {
		t.Fatalf("mapping changed after a failed refresh: %v, want %v", got, before)
	}

	// The organisation was renamed away: error, old mapping stays.
	f.set(func(f *fakeOrgs) {
		delete(f.fail, "syd1")
		f.orgs["syd1"][0].Name = "Contoso (old)"
	})
	if err := d.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh with a vanished organisation returned nil")
	}
	if got := mustOrgs(t, d, "t1"); !slices.Equal(got, before) {
		t.Fatalf("mapping changed after a failed refresh: %v, want %v", got, before)
	}
}

func TestDirectoryAllowMissingKeepsOrgsOfUnreachableServer(t *testing.T) {
	// With allowMissing, a transient listing failure must not drop organisations that were
	// already resolved ("on error the previous mapping stays in force").
	f := newFakeOrgs()
	tenants := []config.Tenant{{ID: "t1", Organizations: []config.TenantOrg{
		{Server: "syd1", Name: "Contoso"}, {Server: "mel1", Name: "Northwind"},
	}}}
	d := authn.NewDirectory(tenants, f.list, true, slog.New(slog.DiscardHandler))
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := mustOrgs(t, d, "t1")
	f.set(func(f *fakeOrgs) { f.fail["mel1"] = errors.New("connection refused") })
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh with allowMissing: %v", err)
	}
	if got := mustOrgs(t, d, "t1"); !slices.Equal(got, before) {
		t.Fatalf("organisations of the unreachable server were dropped: %v, want %v", got, before)
	}
}

func TestDirectoryRunRefreshesAndStops(t *testing.T) {
	f := newFakeOrgs()
	tenants := []config.Tenant{{ID: "t1", Organizations: []config.TenantOrg{{Server: "syd1", Name: "Globex"}}}}
	d := authn.NewDirectory(tenants, f.list, true, slog.New(slog.DiscardHandler))
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeOrgs) {
		f.orgs["syd1"] = append(f.orgs["syd1"], upstream.Organization{ID: "11111111-aaaa-0000-0000-000000000009", Name: "Globex"})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, 10*time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if refs, _ := d.Orgs("t1"); len(refs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not refresh")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
}
