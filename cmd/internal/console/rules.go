package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const ruleFields = `id name url on enabled disabledReason tenant createdBy createdAt updatedAt previousSecretExpiresAt
  minItems firstRestoreFromMachine clientMachineNotIn eventTypes filter { initiatedBy clientHost types results }`

var ruleTriggers = []string{"STARTED", "ENDED", "ITEM"}

type rule struct {
	ID                      string   `json:"id"`
	Name                    string   `json:"name"`
	URL                     string   `json:"url"`
	On                      string   `json:"on"`
	Enabled                 bool     `json:"enabled"`
	DisabledReason          *string  `json:"disabledReason"`
	Tenant                  *string  `json:"tenant"`
	CreatedBy               string   `json:"createdBy"`
	CreatedAt               string   `json:"createdAt"`
	UpdatedAt               string   `json:"updatedAt"`
	PreviousSecretExpiresAt *string  `json:"previousSecretExpiresAt"`
	MinItems                *int64   `json:"minItems"`
	FirstRestoreFromMachine bool     `json:"firstRestoreFromMachine"`
	ClientMachineNotIn      []string `json:"clientMachineNotIn"`
	Filter                  *struct {
		InitiatedBy *string  `json:"initiatedBy"`
		ClientHost  *string  `json:"clientHost"`
		Types       []string `json:"types"`
		Results     []string `json:"results"`
	} `json:"filter"`
}

// Types are the rule's session types (for the form).
func (r rule) Types() []string {
	if r.Filter == nil {
		return nil
	}
	return r.Filter.Types
}

func (s *server) listRules(r *http.Request) ([]rule, gqlErrors, error) {
	var d struct {
		WatchRules []rule `json:"watchRules"`
	}
	notes, err := s.query(r.Context(), sessionFrom(r.Context()).view, `query ConsoleRules { watchRules { `+ruleFields+` } }`, nil, &d)
	return d.WatchRules, notes, err
}

func (s *server) rules(w http.ResponseWriter, r *http.Request) {
	list, notes, err := s.listRules(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "rules", pageData{Title: "Rules", Nav: "rules", Notes: noteList(notes), Data: list})
}

func (s *server) ruleForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "ruleform", pageData{Title: "New rule", Nav: "rules", Data: map[string]any{"Rule": rule{On: "STARTED", Enabled: true}, "Types": sessionTypes, "Triggers": ruleTriggers}})
}

const deliveriesQuery = `query ConsoleDeliveries($id: ID!) {
  webhookDeliveries(ruleId: $id, first: 50) {
    totalCount
    edges { node { id eventType sessionId status nextAttemptAt createdAt attempts { at statusCode error durationMs } } }
  }
}`

func (s *server) rule(w http.ResponseWriter, r *http.Request) {
	list, notes, err := s.listRules(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	var found *rule
	for i := range list {
		if list[i].ID == id {
			found = &list[i]
		}
	}
	if found == nil {
		s.noSuchRule(w, r)
		return
	}
	var d struct {
		WebhookDeliveries struct {
			TotalCount int `json:"totalCount"`
			Edges      []struct {
				Node struct {
					ID            string  `json:"id"`
					EventType     string  `json:"eventType"`
					SessionID     *string `json:"sessionId"`
					Status        string  `json:"status"`
					NextAttemptAt *string `json:"nextAttemptAt"`
					CreatedAt     string  `json:"createdAt"`
					Attempts      []struct {
						At         string  `json:"at"`
						StatusCode *int    `json:"statusCode"`
						Error      *string `json:"error"`
						DurationMs int     `json:"durationMs"`
					} `json:"attempts"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"webhookDeliveries"`
	}
	more, err := s.query(r.Context(), sessionFrom(r.Context()).view, deliveriesQuery, map[string]any{"id": id}, &d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "rule", pageData{Title: found.Name, Nav: "rules", Notes: noteList(append(notes, more...)), Data: map[string]any{
		"Rule": found, "Types": sessionTypes, "Triggers": ruleTriggers, "Deliveries": d.WebhookDeliveries}})
}

// ruleInput reads the rule form into a WatchRuleInput.
func ruleInput(f url.Values) map[string]any {
	in := map[string]any{
		"name": strings.TrimSpace(f.Get("name")), "url": strings.TrimSpace(f.Get("url")), "on": f.Get("on"),
		"enabled": f.Get("enabled") == "on", "firstRestoreFromMachine": f.Get("firstRestoreFromMachine") == "on",
	}
	filter := map[string]any{}
	if v := strings.TrimSpace(f.Get("initiatedBy")); v != "" {
		filter["initiatedBy"] = v
	}
	if v := strings.TrimSpace(f.Get("clientHost")); v != "" {
		filter["clientHost"] = v
	}
	if v := f["type"]; len(v) > 0 {
		filter["types"] = v
	}
	if len(filter) > 0 {
		in["filter"] = filter
	}
	if v := strings.TrimSpace(f.Get("minItems")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			in["minItems"] = n
		} else {
			in["minItems"] = v // the gateway says why it is wrong
		}
	}
	var machines []string
	for _, m := range strings.Split(f.Get("clientMachineNotIn"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			machines = append(machines, m)
		}
	}
	if len(machines) > 0 {
		in["clientMachineNotIn"] = machines
	}
	return in
}

// ruleSave creates (POST /console/rules) or updates (POST /console/rules/{id}) a rule through
// the same mutations as GraphQL; a new rule's secret is shown once, on this answer only.
func (s *server) ruleSave(w http.ResponseWriter, r *http.Request) {
	view, id := sessionFrom(r.Context()).view, r.PathValue("id")
	in := ruleInput(r.PostForm)
	if id == "" {
		var d struct {
			CreateWatchRule struct {
				Rule   rule   `json:"rule"`
				Secret string `json:"secret"`
			} `json:"createWatchRule"`
		}
		_, err := s.query(r.Context(), view, `mutation ConsoleCreateRule($in: WatchRuleInput!) { createWatchRule(input: $in) { rule { id name } secret } }`,
			map[string]any{"in": in}, &d)
		if err != nil {
			s.ruleFormError(w, r, err)
			return
		}
		s.render(w, r, "secret", pageData{Title: "Rule created", Nav: "rules", Data: d.CreateWatchRule})
		return
	}
	var d struct {
		UpdateWatchRule rule `json:"updateWatchRule"`
	}
	if _, err := s.query(r.Context(), view, `mutation ConsoleUpdateRule($id: ID!, $in: WatchRuleInput!) { updateWatchRule(id: $id, input: $in) { id } }`,
		map[string]any{"id": id, "in": in}, &d); err != nil {
		s.ruleFormError(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/rules/"+url.PathEscape(id)+s.keep(r, "?"), http.StatusSeeOther)
}

// noSuchRule is the one answer for a rule that does not exist or is not the viewer's (the
// gateway answers both NOT_FOUND alike): 404, the same page whether read or saved.
func (s *server) noSuchRule(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNotFound)
	s.render(w, r, "error", pageData{Title: "Rule", Nav: "rules", Data: "No such rule."})
}

// ruleFormError answers a rule the gateway did not save: an update of a rule that is not there
// (or not the viewer's) as an unknown one (404, noSuchRule), what the form got wrong 400 with
// the gateway's reasons.
func (s *server) ruleFormError(w http.ResponseWriter, r *http.Request, err error) {
	if ge, ok := err.(gqlErrors); ok {
		for _, e := range ge {
			if e.code() == "NOT_FOUND" && r.PathValue("id") != "" {
				s.noSuchRule(w, r)
				return
			}
		}
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, r, "error", pageData{Title: "Rule not saved", Nav: "rules", Data: "The rule was not saved: " + ge.Error()})
		return
	}
	s.fail(w, r, err)
}

// keep is the tenant a provider admin chose, for redirects.
func (s *server) keep(r *http.Request, sep string) string {
	if t := sessionFrom(r.Context()).tenant; t != "" {
		return sep + "tenant=" + url.QueryEscape(t)
	}
	return ""
}

func (s *server) ruleAction(w http.ResponseWriter, r *http.Request) {
	view, id := sessionFrom(r.Context()).view, r.PathValue("id")
	back := "/console/rules/" + url.PathEscape(id) + s.keep(r, "?")
	switch r.PathValue("action") {
	case "test":
		var d map[string]any
		if _, err := s.query(r.Context(), view, `mutation ConsoleTestRule($id: ID!) { testWatchRule(id: $id) { id status } }`, map[string]any{"id": id}, &d); err != nil {
			s.fail(w, r, err)
			return
		}
	case "rotate":
		var d struct {
			RotateWatchRuleSecret struct {
				Rule   rule   `json:"rule"`
				Secret string `json:"secret"`
			} `json:"rotateWatchRuleSecret"`
		}
		if _, err := s.query(r.Context(), view, `mutation ConsoleRotate($id: ID!) { rotateWatchRuleSecret(id: $id) { rule { id name } secret } }`, map[string]any{"id": id}, &d); err != nil {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, "secret", pageData{Title: "Secret rotated", Nav: "rules", Data: d.RotateWatchRuleSecret})
		return
	case "delete":
		var d map[string]any
		if _, err := s.query(r.Context(), view, `mutation ConsoleDelete($id: ID!) { deleteWatchRule(id: $id) }`, map[string]any{"id": id}, &d); err != nil {
			s.fail(w, r, err)
			return
		}
		back = "/console/rules" + s.keep(r, "?")
	default:
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (s *server) redeliver(w http.ResponseWriter, r *http.Request) {
	var d struct {
		RedeliverWebhook struct {
			RuleID string `json:"ruleId"`
		} `json:"redeliverWebhook"`
	}
	if _, err := s.query(r.Context(), sessionFrom(r.Context()).view, `mutation ConsoleRedeliver($id: ID!) { redeliverWebhook(id: $id) { id ruleId } }`,
		map[string]any{"id": r.PathValue("id")}, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/rules/"+url.PathEscape(d.RedeliverWebhook.RuleID)+s.keep(r, "?"), http.StatusSeeOther)
}
