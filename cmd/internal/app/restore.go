package app

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/store"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/audit/watch"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/config"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/actionlog"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/download"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/frontdoor"
	"github.com/vbo-gateway/vbo-gateway/cmd/internal/restore/policy"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// newFrontDoor builds the restore front door on the store's attribution log (nil unless
// restore.enabled, which config only accepts with the watch, and so the store, on). The
// sessions it opens carry the watcher's lease identity as their replica; the reaper counts
// alive the replicas whose watch heartbeats within the watch's lease ttl (3 intervals).
//
// The item actions (issue 25) get the restore policy (restore/policy, from the configuration),
// the organisations' configured domains and Microsoft 365 credentials, and the one-time
// download links (restore/download), whose Opener asks the link's VBO server to save the items
// and whose Recorder completes the DOWNLOAD record; the reaper sweeps expired links.
func newFrontDoor(cfg *config.Config, fleet *upstream.Fleet, st *store.Store, w *watch.Watcher, logger *slog.Logger) (*frontdoor.Service, *download.Service, error) {
	r := cfg.Restore.WithDefaults()
	if !r.Enabled || st == nil || w == nil {
		return nil, nil, nil
	}
	if err := r.Validate(true); err != nil {
		return nil, nil, err
	}
	l, err := actionlog.New(st)
	if err != nil {
		return nil, nil, err
	}
	self := w.Holder()
	ttl := w.LeaseTTL()
	server := func(name string) (frontdoor.Upstream, bool) {
		c, ok := fleet.Get(name)
		return c, ok
	}
	log := l.WithReplica(self)
	ra := r.RestoreActions.WithDefaults()
	pol, err := policy.New(policy.FromConfig(cfg))
	if err != nil {
		return nil, nil, err
	}
	dl, err := download.New(download.Options{Store: st, Opener: frontdoor.DownloadOpener(server, log), Recorder: frontdoor.DownloadRecorder(log),
		MaxBytes: ra.MaxDownloadBytes, Expiry: ra.DownloadExpiry, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	svc, err := frontdoor.New(frontdoor.Options{
		Log:                      log,
		Server:                   server,
		MaxOpenSessionsPerPerson: r.MaxOpenSessionsPerPerson, StepsPerMinute: r.StepsPerMinute,
		IdleTimeout: r.IdleTimeout, ReapInterval: r.ReapInterval,
		Alive: func(ctx context.Context) ([]string, error) { return st.LiveReplicas(ctx, ttl) },
		Self:  self, Logger: logger, Now: time.Now,
		Policy: pol, Organizations: restoreOrgs(ra.Organizations), Downloads: dl,
		Events: st.SessionEventsFrom,
	})
	if err != nil {
		return nil, nil, err
	}
	return svc, dl, nil
}

// restoreOrgs finds an organisation's restore.organizations[] entry: by server, and its VBO
// id or name (case-insensitive).
func restoreOrgs(list []config.RestoreOrg) func(server, orgID, orgName string) (frontdoor.OrgSettings, bool) {
	return func(server, orgID, orgName string) (frontdoor.OrgSettings, bool) {
		for _, o := range list {
			if o.Server != server {
				continue
			}
			if o.ID != "" && strings.EqualFold(o.ID, orgID) || o.Name != "" && orgName != "" && strings.EqualFold(o.Name, orgName) {
				return frontdoor.OrgSettings{Domains: o.Domains, Credentials: o.Credentials}, true
			}
		}
		return frontdoor.OrgSettings{}, false
	}
}

// The fleet's clients take the item actions.
var _ frontdoor.ActionUpstream = (*upstream.Client)(nil)
