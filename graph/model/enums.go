package model

import (
	"slices"

	"github.com/vbo-gateway/vbo-gateway/upstream"
)

// VBO enum values map to GraphQL enums here; anything unknown maps to UNKNOWN, never an error.

var sessionTypes = map[upstream.RestoreSessionType]RestoreSessionType{
	upstream.SessionTypeExchange:   RestoreSessionTypeExchange,
	upstream.SessionTypeOneDrive:   RestoreSessionTypeOnedrive,
	upstream.SessionTypeSharePoint: RestoreSessionTypeSharepoint,
	upstream.SessionTypeTeams:      RestoreSessionTypeTeams,
}

var sessionStates = map[upstream.RestoreSessionState]RestoreSessionState{
	upstream.SessionStateWorking: RestoreSessionStateWorking,
	upstream.SessionStateStopped: RestoreSessionStateStopped,
}

var sessionResults = map[upstream.RestoreSessionResult]RestoreSessionResult{
	upstream.SessionResultSuccess: RestoreSessionResultSuccess,
	upstream.SessionResultWarning: RestoreSessionResultWarning,
	upstream.SessionResultFailed:  RestoreSessionResultFailed,
}

var eventTypes = map[upstream.RestoreEventType]RestoreEventType{
	upstream.EventTypeNone:    RestoreEventTypeNone,
	upstream.EventTypeSave:    RestoreEventTypeSave,
	upstream.EventTypeExport:  RestoreEventTypeExport,
	upstream.EventTypeSend:    RestoreEventTypeSend,
	upstream.EventTypeRestore: RestoreEventTypeRestore,
	upstream.EventTypeView:    RestoreEventTypeView,
}

var eventStatuses = map[upstream.RestoreEventStatus]RestoreEventStatus{
	upstream.EventStatusRunning:   RestoreEventStatusRunning,
	upstream.EventStatusSuccess:   RestoreEventStatusSuccess,
	upstream.EventStatusWarning:   RestoreEventStatusWarning,
	upstream.EventStatusFailed:    RestoreEventStatusFailed,
	upstream.EventStatusCancelled: RestoreEventStatusCancelled,
	upstream.EventStatusSkipped:   RestoreEventStatusSkipped,
}

func lookup[K comparable, V any](m map[K]V, k K, unknown V) V {
	if v, ok := m[k]; ok {
		return v
	}
	return unknown
}

// SessionTypeFromVBO maps Vex/Veod/Vesp/Vet.
func SessionTypeFromVBO(t upstream.RestoreSessionType) RestoreSessionType {
	return lookup(sessionTypes, t, RestoreSessionTypeUnknown)
}

// SessionStateFromVBO maps Working/Stopped.
func SessionStateFromVBO(s upstream.RestoreSessionState) RestoreSessionState {
	return lookup(sessionStates, s, RestoreSessionStateUnknown)
}

// SessionResultFromVBO maps Success/Warning/Failed.
func SessionResultFromVBO(r upstream.RestoreSessionResult) RestoreSessionResult {
	return lookup(sessionResults, r, RestoreSessionResultUnknown)
}

// EventTypeFromVBO maps None/Save/Export/Send/Restore/View.
func EventTypeFromVBO(t upstream.RestoreEventType) RestoreEventType {
	return lookup(eventTypes, t, RestoreEventTypeUnknown)
}

// EventStatusFromVBO maps Running/Success/Warning/Failed/Cancelled/Skipped.
func EventStatusFromVBO(s upstream.RestoreEventStatus) RestoreEventStatus {
	return lookup(eventStatuses, s, RestoreEventStatusUnknown)
}

// enumRefs maps each value of an enum to a pointer to read-only storage holding it (the model's
// fields return these: see the package comment).
func enumRefs[E comparable](all []E) map[E]*E {
	vals := slices.Clone(all)
	m := make(map[E]*E, len(vals))
	for i := range vals {
		m[vals[i]] = &vals[i]
	}
	return m
}

var (
	sessionTypeRefs   = enumRefs(AllRestoreSessionType)
	sessionStateRefs  = enumRefs(AllRestoreSessionState)
	sessionResultRefs = enumRefs(AllRestoreSessionResult)
	eventTypeRefs     = enumRefs(AllRestoreEventType)
	eventStatusRefs   = enumRefs(AllRestoreEventStatus)
)
