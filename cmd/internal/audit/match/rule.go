package match

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // business hours in any IANA zone, even in a static image without zoneinfo

	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Trigger is when a rule is evaluated.
type Trigger string

// Triggers.
const (
	// Started: a session the watcher first sees (running or already ended).
	Started Trigger = "STARTED"
	// Ended: a session the watcher sees stopped, with its final item totals.
	Ended Trigger = "ENDED"
	// Item: item events of a running session, as the watcher reads them.
	Item Trigger = "ITEM"
)

// Valid reports whether t is a known trigger.
func (t Trigger) Valid() bool { return t == Started || t == Ended || t == Item }

// Definition is a rule as its owner wrote it (and as it is stored, as JSON). Every condition
// given must hold.
type Definition struct {
	Name string  `json:"name"`
	URL  string  `json:"url"`
	On   Trigger `json:"on"`
	// Filter narrows sessions exactly as the restoreSessions query does.
	Filter *model.RestoreSessionFilter `json:"filter,omitempty"`
	// MinItems and MinBytes: at least this many items / bytes in the session (ENDED only).
	MinItems *int64 `json:"minItems,omitempty"`
	MinBytes *int64 `json:"minBytes,omitempty"`
	// EventTypes: an item event of one of these types (ITEM: the event; ENDED: any event of
	// the session). NONE (the start/stop markers) is not an item and is refused.
	EventTypes []model.RestoreEventType `json:"eventTypes,omitempty"`
	// SourceContains: an item event whose source (mailbox, site, path) contains this text,
	// case-insensitively (ITEM and ENDED).
	SourceContains string `json:"sourceContains,omitempty"`
	// ClientMachineNotIn: the client machine is none of these names (case-insensitive). A
	// session with no recorded machine is not in the list.
	ClientMachineNotIn []string `json:"clientMachineNotIn,omitempty"`
	// ViaAddressIn: the restore came through an address in one of these CIDRs.
	ViaAddressIn []string `json:"viaAddressIn,omitempty"`
	// OutsideBusinessHours: the session started (ITEM: the event started) outside these hours.
	OutsideBusinessHours *BusinessHours `json:"outsideBusinessHours,omitempty"`
	// FirstRestoreFromMachine: the archive holds no earlier session of this organisation from
	// this client machine.
	FirstRestoreFromMachine bool `json:"firstRestoreFromMachine,omitempty"`
	// StartedOutsideGateway: true, only sessions NOT started through the gateway's restore
	// front door (a restore that bypassed the portal); false, only sessions started through
	// it; nil, either. A session whose attribution is still pending matches neither.
	StartedOutsideGateway *bool `json:"startedOutsideGateway,omitempty"`
	// Destructive: true, only restores to the original location (ITEM: the item events that
	// restored an item over its original, see EventDestructive; STARTED and ENDED: sessions
	// holding such an event or a destructive action the gateway recorded); false, only the
	// others (ITEM: the other item events; STARTED and ENDED: sessions with neither); nil,
	// either.
	Destructive *bool `json:"destructive,omitempty"`
}

// BusinessHours are the working hours of a week in one time zone.
type BusinessHours struct {
	// TimeZone is an IANA zone name, e.g. Australia/Sydney.
	TimeZone string `json:"timeZone"`
	// Days are the working days (MONDAY..SUNDAY); default Monday to Friday.
	Days []string `json:"days,omitempty"`
	// Start and End are the working hours, "HH:MM" in 24-hour time, Start before End;
	// default 09:00 to 17:00.
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Limits on a definition, so that one rule cannot make evaluation expensive.
const (
	MaxNameLen        = 200
	MaxURLLen         = 2048
	MaxListLen        = 100
	MaxSubstringLen   = 512
	defaultStart      = "09:00"
	defaultEnd        = "17:00"
	minutesPerDay     = 24 * 60
	weekdayNamesCount = 7
)

var weekdays = map[string]time.Weekday{
	"SUNDAY": time.Sunday, "MONDAY": time.Monday, "TUESDAY": time.Tuesday, "WEDNESDAY": time.Wednesday,
	"THURSDAY": time.Thursday, "FRIDAY": time.Friday, "SATURDAY": time.Saturday,
}

// Rule is a compiled, validated Definition. It is immutable and safe for concurrent use.
type Rule struct {
	def         Definition
	filter      *Filter
	eventTypes  []model.RestoreEventType
	source      string
	machinesOK  map[string]bool
	via         []netip.Prefix
	hours       *hours
	firstFromMc bool
}

type hours struct {
	loc        *time.Location
	days       [weekdayNamesCount]bool
	start, end int // minutes after midnight
}

// Compile validates d and prepares it for evaluation. Errors are *model.InputError naming the field.
// The URL's safety (scheme, addresses) is the webhooks Guard's business, not checked here.
func Compile(d Definition) (*Rule, error) {
	r := &Rule{def: d}
	if err := checkBasics(d); err != nil {
		return nil, err
	}
	f, err := CompileFilter(d.Filter)
	if err != nil {
		return nil, err
	}
	r.filter = f
	if err := checkConditions(d); err != nil {
		return nil, err
	}
	r.eventTypes = d.EventTypes
	r.source = strings.ToLower(d.SourceContains)
	if r.machinesOK, err = compileMachines(d.ClientMachineNotIn); err != nil {
		return nil, err
	}
	if r.via, err = compileVia(d.ViaAddressIn); err != nil {
		return nil, err
	}
	if d.OutsideBusinessHours != nil {
		if r.hours, err = compileHours(*d.OutsideBusinessHours); err != nil {
			return nil, err
		}
	}
	r.firstFromMc = d.FirstRestoreFromMachine
	return r, nil
}

// checkBasics checks the rule's name, URL and trigger.
func checkBasics(d Definition) error {
	if strings.TrimSpace(d.Name) == "" || len(d.Name) > MaxNameLen {
		return &model.InputError{Field: "name", Msg: fmt.Sprintf("must be 1 to %d characters", MaxNameLen)}
	}
	if d.URL == "" || len(d.URL) > MaxURLLen {
		return &model.InputError{Field: "url", Msg: fmt.Sprintf("must be 1 to %d characters", MaxURLLen)}
	}
	if !d.On.Valid() {
		return &model.InputError{Field: "on", Msg: "must be STARTED, ENDED or ITEM"}
	}
	return nil
}

// checkConditions checks that the item conditions fit the trigger and their bounds.
func checkConditions(d Definition) error {
	if d.MinItems != nil || d.MinBytes != nil {
		if d.On != Ended {
			return &model.InputError{Field: "minItems", Msg: "and minBytes apply to ENDED rules only (item totals are final when a session ends)"}
		}
		if d.MinItems != nil && *d.MinItems < 0 || d.MinBytes != nil && *d.MinBytes < 0 {
			return &model.InputError{Field: "minItems", Msg: "and minBytes must not be negative"}
		}
	}
	if (len(d.EventTypes) > 0 || d.SourceContains != "") && d.On == Started {
		return &model.InputError{Field: "eventTypes", Msg: "and sourceContains need ITEM or ENDED (a session that just started has no items yet)"}
	}
	for _, t := range d.EventTypes {
		if t == model.RestoreEventTypeNone || !t.IsValid() {
			return &model.InputError{Field: "eventTypes", Msg: fmt.Sprintf("%q is not an item event type (VIEW, EXPORT, SEND, SAVE, RESTORE)", t)}
		}
	}
	if len(d.EventTypes) > MaxListLen || len(d.ClientMachineNotIn) > MaxListLen || len(d.ViaAddressIn) > MaxListLen {
		return &model.InputError{Field: "eventTypes", Msg: fmt.Sprintf("(like clientMachineNotIn and viaAddressIn) takes at most %d entries", MaxListLen)}
	}
	if len(d.SourceContains) > MaxSubstringLen {
		return &model.InputError{Field: "sourceContains", Msg: fmt.Sprintf("must be at most %d characters", MaxSubstringLen)}
	}
	return nil
}

// compileMachines is clientMachineNotIn as a set of lower-case names (nil when not given).
func compileMachines(names []string) (map[string]bool, error) {
	if names == nil {
		return nil, nil
	}
	set := map[string]bool{}
	for _, m := range names {
		m = strings.ToLower(strings.TrimSpace(m))
		if m == "" || len(m) > MaxSubstringLen {
			return nil, &model.InputError{Field: "clientMachineNotIn", Msg: "holds an empty or overlong name"}
		}
		set[m] = true
	}
	return set, nil
}

// compileVia is viaAddressIn as prefixes (a bare address is a one-address prefix).
func compileVia(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := parsePrefix(c)
		if err != nil {
			return nil, &model.InputError{Field: "viaAddressIn", Msg: fmt.Sprintf("%q is not a CIDR (e.g. 203.0.113.0/24)", c)}
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

func compileHours(b BusinessHours) (*hours, error) {
	if b.TimeZone == "" {
		return nil, &model.InputError{Field: "outsideBusinessHours.timeZone", Msg: "is required (an IANA zone such as Europe/Berlin)"}
	}
	loc, err := time.LoadLocation(b.TimeZone)
	if err != nil || b.TimeZone == "Local" {
		return nil, &model.InputError{Field: "outsideBusinessHours.timeZone", Msg: fmt.Sprintf("%q is not an IANA time zone", b.TimeZone)}
	}
	h := &hours{loc: loc}
	days := b.Days
	if len(days) == 0 {
		days = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"}
	}
	for _, d := range days {
		wd, ok := weekdays[strings.ToUpper(d)]
		if !ok {
			return nil, &model.InputError{Field: "outsideBusinessHours.days", Msg: fmt.Sprintf("%q is not a weekday (MONDAY..SUNDAY)", d)}
		}
		h.days[wd] = true
	}
	start, end := cmpOr(b.Start, defaultStart), cmpOr(b.End, defaultEnd)
	if h.start, err = clock(start); err != nil {
		return nil, &model.InputError{Field: "outsideBusinessHours.start", Msg: err.Error()}
	}
	if h.end, err = clock(end); err != nil {
		return nil, &model.InputError{Field: "outsideBusinessHours.end", Msg: err.Error()}
	}
	if h.start >= h.end {
		return nil, &model.InputError{Field: "outsideBusinessHours.start", Msg: "must be before end"}
	}
	return h, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// clock parses "HH:MM" (24:00 allowed as the end of the day) into minutes after midnight.
func clock(s string) (int, error) {
	var hh, mm int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &hh, &mm); err != nil || hh > 24 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	return hh*60 + mm, nil
}

// outside reports whether t falls outside the business hours.
func (h *hours) outside(t time.Time) bool {
	l := t.In(h.loc)
	if !h.days[l.Weekday()] {
		return true
	}
	m := l.Hour()*60 + l.Minute()
	return m < h.start || m >= h.end
}

// Definition returns the rule as written.
func (r *Rule) Definition() Definition { return r.def }

// Trigger is when the rule is evaluated.
func (r *Rule) Trigger() Trigger { return r.def.On }

// NeedsEvents reports whether evaluating the rule needs the session's item events.
func (r *Rule) NeedsEvents() bool {
	return r.hasEventConditions() || r.def.Destructive != nil
}

// hasEventConditions reports whether the rule picks item events (ITEM rules; eventTypes and
// sourceContains): it then matches only with one, and its payload lists them.
func (r *Rule) hasEventConditions() bool {
	return r.def.On == Item || len(r.eventTypes) > 0 || r.source != ""
}

// Input is what a rule is evaluated against.
type Input struct {
	Trigger Trigger
	Session *Session
	// Events are the item events to look at: for ITEM, those the watcher has just read; for
	// ENDED and STARTED, the session's events (only needed when NeedsEvents; an ENDED rule on
	// event types alone falls back to Session.ItemsByEventType when Events is nil).
	Events []upstream.RestoreSessionEvent
	// FirstFromMachine answers "does the archive hold no earlier session of this
	// organisation from this machine?"; consulted only by rules that ask, and last.
	FirstFromMachine func() (bool, error)
}

// Match is a rule's verdict.
type Match struct {
	// Events are the item events that matched (ITEM; ENDED rules with event conditions).
	Events []upstream.RestoreSessionEvent
}

// Evaluate reports whether the rule matches in. Only the archive lookup can fail.
func (r *Rule) Evaluate(in Input) (*Match, bool, error) {
	if in.Trigger != r.def.On || in.Session == nil || !r.sessionMatches(in.Session) {
		return nil, false, nil
	}
	m, ok := r.eventsMatch(in)
	if !ok {
		return nil, false, nil
	}
	if r.firstFromMc {
		first, err := r.firstFromMachine(in)
		if err != nil || !first {
			return nil, false, err
		}
	}
	return m, true, nil
}

// sessionMatches checks the conditions on the session itself: the filter, the item totals,
// the attribution, the machine, the via address and the business hours.
func (r *Rule) sessionMatches(s *Session) bool {
	if !r.filter.Match(s) {
		return false
	}
	if r.def.MinItems != nil && s.Items < *r.def.MinItems || r.def.MinBytes != nil && s.Bytes < *r.def.MinBytes {
		return false
	}
	if g := r.def.StartedOutsideGateway; g != nil && (s.Attribution.Pending || *g == s.Attribution.ThroughGateway) {
		return false
	}
	ch := s.ClientHost()
	if r.machinesOK != nil && r.machinesOK[strings.ToLower(ch.MachineName)] {
		return false
	}
	if r.via != nil && !r.viaMatches(ch.ViaAddress) {
		return false
	}
	return r.def.On == Item || r.hours == nil || r.hours.outside(s.Upstream.CreationTime)
}

// eventsMatch checks the item conditions and returns the matching events.
func (r *Rule) eventsMatch(in Input) (*Match, bool) {
	m := &Match{}
	if want := r.def.Destructive; want != nil && r.def.On != Item && sessionDestructive(in.Events, in.Session.ItemActions) != *want {
		return m, false
	}
	switch {
	case r.def.On == Ended && r.source == "" && len(r.eventTypes) > 0 && in.Events == nil:
		// Event types alone can be answered from the archived totals.
		return m, r.anyCounted(in.Session)
	case r.hasEventConditions():
		m.Events = r.matchingEvents(in.Events, in.Session.ItemActions)
		return m, len(m.Events) > 0
	}
	return m, true
}

// firstFromMachine asks the archive whether this is the organisation's first restore from the
// session's machine (false when the machine is unknown).
func (r *Rule) firstFromMachine(in Input) (bool, error) {
	if in.Session.ClientHost().MachineName == "" || in.FirstFromMachine == nil {
		return false, nil
	}
	first, err := in.FirstFromMachine()
	if err != nil {
		return false, fmt.Errorf("rule %q: first restore from machine: %w", r.def.Name, err)
	}
	return first, nil
}

func (r *Rule) anyCounted(s *Session) bool {
	for _, t := range r.eventTypes {
		if s.ItemsByEventType[t] > 0 {
			return true
		}
	}
	return false
}

func (r *Rule) viaMatches(via string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(via))
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.via {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// matchingEvents keeps the item events satisfying the event conditions. For ITEM rules with
// business hours the event's own start time decides; for ENDED rules the session's.
func (r *Rule) matchingEvents(events []upstream.RestoreSessionEvent, actions []ItemAction) []upstream.RestoreSessionEvent {
	var out []upstream.RestoreSessionEvent
	var join *itemJoin // prepared at the first event the destructive condition reads
	for _, e := range events {
		t := model.EventTypeFromVBO(e.Type)
		if t == model.RestoreEventTypeNone {
			continue
		}
		if len(r.eventTypes) > 0 && !slices.Contains(r.eventTypes, t) {
			continue
		}
		if r.source != "" && !strings.Contains(strings.ToLower(e.Source), r.source) {
			continue
		}
		if r.def.On == Item && r.hours != nil && !r.hours.outside(e.StartTime) {
			continue
		}
		if want := r.def.Destructive; want != nil && r.def.On == Item {
			if join == nil {
				join = newItemJoin(actions)
			}
			if join.destructive(&e) != *want {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}
