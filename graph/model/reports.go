package model

import "time"

// ReportSchedule is a report schedule as the schema shows it. It is written by hand (not
// generated) so that runs has a resolver of its own: the runs are paged from the store.
type ReportSchedule struct {
	ID             string                  `json:"id"`
	Name           string                  `json:"name"`
	Every          ReportPeriod            `json:"every"`
	At             string                  `json:"at"`
	TimeZone       string                  `json:"timeZone"`
	Filter         *WatchRuleFilter        `json:"filter,omitempty"`
	GroupBy        []RestoreAuditDimension `json:"groupBy"`
	OnlyIfActivity bool                    `json:"onlyIfActivity"`
	WebhookURL     *string                 `json:"webhookUrl,omitempty"`
	Email          []string                `json:"email"`
	Tenant         *string                 `json:"tenant,omitempty"`
	CreatedBy      string                  `json:"createdBy"`
	CreatedAt      time.Time               `json:"createdAt"`
	UpdatedAt      time.Time               `json:"updatedAt"`
	NextRunAt      time.Time               `json:"nextRunAt"`
}
