package match

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vbo-gateway/vbo-gateway/graph/gid"
	"github.com/vbo-gateway/vbo-gateway/graph/model"
	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// Event types of the payload ("type" at the top level, per the Standard Webhooks payload
// structure).
const (
	EventSessionStarted = "restore.session.started"
	EventSessionEnded   = "restore.session.ended"
	EventItem           = "restore.item"
	EventTest           = "webhook.test"
)

// EventTypeFor is the payload type of a trigger.
func EventTypeFor(t Trigger) string {
	switch t {
	case Started:
		return EventSessionStarted
	case Ended:
		return EventSessionEnded
	case Item:
		return EventItem
	}
	return EventTest
}

// Payload is the JSON body of a delivery: {type, timestamp, rule, data}, data shaped like the
// GraphQL RestoreSession.
type Payload struct {
	Type      string       `json:"type"`
	Timestamp time.Time    `json:"timestamp"`
	Rule      PayloadRule  `json:"rule"`
	Data      *SessionData `json:"data"`
}

// PayloadRule names the rule that matched.
type PayloadRule struct {
	ID   string  `json:"id"`
	Name string  `json:"name"`
	On   Trigger `json:"on"`
}

// SessionData mirrors the GraphQL RestoreSession.
type SessionData struct {
	ID           string                     `json:"id"`
	UpstreamID   string                     `json:"upstreamId"`
	Server       NameRef                    `json:"server"`
	Organization OrgRef                     `json:"organization"`
	Name         string                     `json:"name"`
	Type         model.RestoreSessionType   `json:"type"`
	State        model.RestoreSessionState  `json:"state"`
	Result       model.RestoreSessionResult `json:"result"`
	StartTime    time.Time                  `json:"startTime"`
	EndTime      *time.Time                 `json:"endTime"`
	InitiatedBy  *string                    `json:"initiatedBy"`
	ClientHost   *ClientHostData            `json:"clientHost"`
	Reason       *string                    `json:"reason"`
	Details      *string                    `json:"details"`
	ScopeName    *string                    `json:"scopeName"`
	Totals       Totals                     `json:"totals"`
	// Attribution mirrors the GraphQL RestoreSession.attribution (without its actions).
	Attribution AttributionData `json:"attribution"`
	// Events are the item events that matched (ITEM rules; ENDED rules with event
	// conditions), the first MaxPayloadEvents of them; empty otherwise.
	Events []EventData `json:"events"`
	// MatchedEvents counts every event that matched (Events may hold fewer).
	MatchedEvents int `json:"matchedEvents"`
}

// MaxPayloadEvents bounds the events listed in one payload.
const MaxPayloadEvents = 100

// Payload size bounds. A delivery's body is stored per rule and session and sent on every
// attempt, and every string in it comes from VBO (session names, details, event messages,
// paths), so none is copied whole: a string longer than MaxPayloadString is cut (on a UTF-8
// boundary) and ends with TruncatedMarker and its full length; and a body still longer than
// MaxPayloadBytes lists fewer events (matchedEvents still counts them all).
const (
	MaxPayloadString = 4 << 10
	MaxPayloadBytes  = 128 << 10
)

// TruncatedMarker ends a string the payload cut: "…[truncated, 921600 bytes]".
const TruncatedMarker = "…[truncated"

// NameRef names a server.
type NameRef struct {
	Name string `json:"name"`
}

// OrgRef identifies an organisation.
type OrgRef struct {
	ID         string `json:"id"`
	UpstreamID string `json:"upstreamId"`
	Name       string `json:"name"`
}

// ClientHostData mirrors the GraphQL ClientHost.
type ClientHostData struct {
	Raw         string  `json:"raw"`
	MachineName *string `json:"machineName"`
	ViaAddress  *string `json:"viaAddress"`
}

// Totals are the session's item totals as archived so far.
type Totals struct {
	Items       int64                            `json:"items"`
	Bytes       int64                            `json:"bytes"`
	ByEventType map[model.RestoreEventType]int64 `json:"byEventType"`
	FirstItem   *time.Time                       `json:"firstItem"`
	LastItem    *time.Time                       `json:"lastItem"`
}

// AttributionData mirrors the GraphQL RestoreAttribution: who started the session through the
// gateway (throughGateway false and the rest null for sessions started outside it).
type AttributionData struct {
	ThroughGateway bool    `json:"throughGateway"`
	Person         *string `json:"person"`
	DisplayName    *string `json:"displayName"`
	Tenant         *string `json:"tenant"`
	Reason         *string `json:"reason"`
}

// EventData mirrors the GraphQL RestoreEvent.
type EventData struct {
	ID            string                   `json:"id"`
	UpstreamID    string                   `json:"upstreamId"`
	Order         int                      `json:"order"`
	Type          model.RestoreEventType   `json:"type"`
	Status        model.RestoreEventStatus `json:"status"`
	Title         *string                  `json:"title"`
	Message       string                   `json:"message"`
	ItemName      *string                  `json:"itemName"`
	ItemType      *string                  `json:"itemType"`
	ItemSizeBytes *int64                   `json:"itemSizeBytes"`
	Source        *string                  `json:"source"`
	Target        *string                  `json:"target"`
	StartTime     time.Time                `json:"startTime"`
	EndTime       *time.Time               `json:"endTime"`
	// Destructive: the event restored the item over its original location (EventDestructive).
	Destructive bool `json:"destructive"`
	// Actor is who took the gateway action that wrote the event (JoinAction), which may be
	// another person than the session's (attribution); null when the event joins none (a
	// session outside the gateway, or an event the join cannot place).
	Actor *ActorData `json:"actor"`
}

// ActorData is the person behind one item event: the gateway action that wrote it.
type ActorData struct {
	Person      string  `json:"person"`
	DisplayName *string `json:"displayName"`
	ActionID    string  `json:"actionId"`
	Kind        string  `json:"kind"`
}

// NewPayload builds the payload of a match. now is the payload's timestamp (when the match was
// found, not when an attempt is made: the body is the same on every attempt).
func NewPayload(ruleID string, d Definition, trigger Trigger, s *Session, matched []upstream.RestoreSessionEvent, now time.Time) *Payload {
	return &Payload{
		Type:      EventTypeFor(trigger),
		Timestamp: now.UTC().Truncate(time.Millisecond),
		Rule:      PayloadRule{ID: ruleID, Name: clip(d.Name), On: d.On},
		Data:      sessionData(s, matched),
	}
}

// Marshal encodes the payload, within MaxPayloadBytes: when the body is longer, the events
// listed are halved until it fits (the strings are already bounded, so it does).
func (p *Payload) Marshal() ([]byte, error) {
	for {
		b, err := json.Marshal(p)
		if err != nil || len(b) <= MaxPayloadBytes || p.Data == nil || len(p.Data.Events) == 0 {
			return b, err
		}
		q := *p
		d := *p.Data
		d.Events = d.Events[:len(d.Events)/2]
		q.Data = &d
		p = &q
	}
}

// clip bounds one payload string (see MaxPayloadString): what it keeps takes at most
// MaxPayloadString bytes once JSON-encoded (escapes counted), so the session's strings alone
// always fit in MaxPayloadBytes.
func clip(s string) string {
	if len(s) <= MaxPayloadString/6 { // no rune encodes to more than 6 bytes
		return s
	}
	n := 0
	for i, r := range s {
		if n += jsonWidth(r); n > MaxPayloadString {
			return s[:i] + TruncatedMarker + ", " + strconv.Itoa(len(s)) + " bytes]"
		}
	}
	return s
}

// jsonWidth is how many bytes encoding/json writes for r inside a string.
func jsonWidth(r rune) int {
	switch {
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029 || r == utf8.RuneError:
		return 6
	}
	return utf8.RuneLen(r)
}

func sessionData(s *Session, matched []upstream.RestoreSessionEvent) *SessionData {
	u := &s.Upstream
	ch := s.ClientHost()
	d := &SessionData{
		ID:           clip(s.ID()),
		UpstreamID:   clip(u.ID),
		Server:       NameRef{Name: clip(s.Server)},
		Organization: OrgRef{ID: clip(s.OrgGlobalID()), UpstreamID: clip(s.OrgID), Name: clip(s.OrgName)},
		Name:         clip(u.Name),
		Type:         model.SessionTypeFromVBO(u.Type),
		State:        model.SessionStateFromVBO(u.State),
		Result:       model.SessionResultFromVBO(u.Result),
		StartTime:    u.CreationTime.UTC(),
		EndTime:      utc(u.EndTime),
		InitiatedBy:  opt(clip(u.InitiatedBy)),
		Reason:       opt(clip(u.Reason)),
		Details:      opt(clip(u.Details)),
		ScopeName:    opt(clip(u.ScopeName)),
		Totals: Totals{Items: s.Items, Bytes: s.Bytes, ByEventType: s.ItemsByEventType,
			FirstItem: utc(s.FirstItem), LastItem: utc(s.LastItem)},
		Events:        make([]EventData, 0, min(len(matched), MaxPayloadEvents)),
		MatchedEvents: len(matched),
	}
	if a := s.Attribution; a.ThroughGateway {
		d.Attribution = AttributionData{ThroughGateway: true, Person: opt(clip(a.Person)), DisplayName: opt(clip(a.DisplayName)),
			Tenant: opt(clip(a.Tenant)), Reason: opt(clip(a.Reason))}
	}
	if d.Totals.ByEventType == nil {
		d.Totals.ByEventType = map[model.RestoreEventType]int64{}
	}
	if u.ClientHost != "" {
		d.ClientHost = &ClientHostData{Raw: clip(ch.Raw), MachineName: opt(clip(ch.MachineName)), ViaAddress: opt(clip(ch.ViaAddress))}
	}
	var join *itemJoin // the events' actors, joined once the first event needs them
	for i := range matched[:min(len(matched), MaxPayloadEvents)] {
		e := &matched[i]
		if join == nil {
			join = newItemJoin(s.ItemActions)
		}
		d.Events = append(d.Events, EventData{
			ID:         clip(gid.ID{Kind: gid.KindRestoreEvent, Server: s.Server, Parent: u.ID, Upstream: e.ID}.String()),
			UpstreamID: clip(e.ID), Order: e.Order,
			Type: model.EventTypeFromVBO(e.Type), Status: model.EventStatusFromVBO(e.Status),
			Title: opt(clip(e.Title)), Message: clip(e.Message), ItemName: opt(clip(e.ItemName)), ItemType: opt(clip(e.ItemType)),
			ItemSizeBytes: e.ItemSizeBytes, Source: opt(clip(e.Source)), Target: opt(clip(e.Target)),
			StartTime: e.StartTime.UTC(), EndTime: utc(e.EndTime),
			Destructive: join.destructive(e), Actor: actorOf(join.action(e)),
		})
	}
	return d
}

func actorOf(a *ItemAction) *ActorData {
	if a == nil {
		return nil
	}
	return &ActorData{Person: clip(a.Person), DisplayName: opt(clip(a.DisplayName)), ActionID: clip(a.ID), Kind: a.Kind}
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
