package watchrules

import (
	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
)

func ruleModel(r *ruleRow) *model.WatchRule {
	d := r.def
	m := &model.WatchRule{
		ID: r.id, Name: d.Name, URL: d.URL, On: model.WatchTrigger(d.On),
		MinItems: d.MinItems, MinBytes: d.MinBytes,
		EventTypes: orEmpty(d.EventTypes), ClientMachineNotIn: orEmpty(d.ClientMachineNotIn), ViaAddressIn: orEmpty(d.ViaAddressIn),
		FirstRestoreFromMachine: d.FirstRestoreFromMachine, StartedOutsideGateway: d.StartedOutsideGateway,
		Destructive: d.Destructive, Enabled: r.enabled, Tenant: r.tenant,
		CreatedBy: r.createdBy, CreatedAt: r.created, UpdatedAt: r.updated,
	}
	if d.SourceContains != "" {
		m.SourceContains = &d.SourceContains
	}
	if r.disabledReason != "" {
		m.DisabledReason = &r.disabledReason
	}
	if !r.previous.IsZero() && !r.previousUntil.IsZero() {
		t := r.previousUntil
		m.PreviousSecretExpiresAt = &t
	}
	if f := d.Filter; f != nil {
		m.Filter = &model.WatchRuleFilter{StartTimeFrom: f.StartTimeFrom, StartTimeTo: f.StartTimeTo, OrganizationIds: f.OrganizationIds,
			Servers: f.Servers, Types: f.Types, States: f.States, Results: f.Results, InitiatedBy: f.InitiatedBy, ClientHost: f.ClientHost}
	}
	if h := d.OutsideBusinessHours; h != nil {
		bh := &model.BusinessHours{TimeZone: h.TimeZone, Start: or(h.Start, "09:00"), End: or(h.End, "17:00"), Days: []model.Weekday{}}
		days := h.Days
		if len(days) == 0 {
			days = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"}
		}
		for _, day := range days {
			bh.Days = append(bh.Days, model.Weekday(day))
		}
		m.OutsideBusinessHours = bh
	}
	return m
}

func deliveryModel(d *deliveryRow, attempts []attemptRow) *model.WebhookDelivery {
	m := &model.WebhookDelivery{ID: d.id, RuleID: d.ruleID, MessageID: d.messageID, EventType: d.eventType,
		Status: model.WebhookDeliveryStatus(d.status), CreatedAt: d.created, Payload: d.payload,
		Attempts: make([]*model.WebhookAttempt, 0, len(attempts))}
	if d.sessionID != "" {
		id := gid.ID{Kind: gid.KindRestoreSession, Server: d.server, Upstream: d.sessionID}.String()
		m.SessionID = &id
	}
	if d.status == statusPending && d.nextAttempt != nil {
		t := *d.nextAttempt
		m.NextAttemptAt = &t
	}
	for _, a := range attempts {
		wa := &model.WebhookAttempt{At: a.at, StatusCode: a.statusCode, DurationMs: int(a.durationMS)}
		if a.err != "" {
			e := a.err
			wa.Error = &e
		}
		m.Attempts = append(m.Attempts, wa)
	}
	return m
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
