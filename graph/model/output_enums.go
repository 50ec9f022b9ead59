package model

import (
	"fmt"
	"io"
	"strconv"
)

// The enums every restore session and event carries are written here rather than generated
// (gqlgen binds them through autobind): their MarshalGQL writes the quoted name straight into
// the response buffer, where the generated one allocates twice per value (strconv.Quote and
// fmt.Fprint). TestOutputEnumsMatchSchema holds their values to the schema.

// writeEnum writes an enum value as a JSON string: schema names need no escaping; anything
// else (a value that is not the schema's) is quoted in full.
func writeEnum(w io.Writer, s string, valid bool) {
	if !valid {
		_, _ = io.WriteString(w, strconv.Quote(s))
		return
	}
	_, _ = io.WriteString(w, `"`)
	_, _ = io.WriteString(w, s)
	_, _ = io.WriteString(w, `"`)
}

// unmarshalEnum reads an enum from a GraphQL input value.
func unmarshalEnum[E ~string](v any, valid func(E) bool, typeName string) (E, error) {
	// An InputError (BAD_USER_INPUT): gqlparser's variable validation lets an enum value through
	// in any letter case ("exchange"), so a value that is not exactly the schema's reaches here
	// from the client.
	str, ok := v.(string)
	if !ok {
		return "", &InputError{Msg: fmt.Sprintf("%s must be a string", typeName)}
	}
	if !valid(E(str)) {
		return "", &InputError{Msg: fmt.Sprintf("%s is not a valid %s (enum values are written exactly as in the schema, upper case)", truncate(str, 64), typeName)}
	}
	return E(str), nil
}

// unmarshalEnumJSON reads an enum from JSON text (a quoted name).
func unmarshalEnumJSON[E ~string](b []byte, valid func(E) bool, typeName string) (E, error) {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return "", err
	}
	return unmarshalEnum(s, valid, typeName)
}

// Restore session types (VBO explorers).
type RestoreSessionType string

const (
	// Veeam Explorer for Microsoft Exchange (VBO: Vex).
	RestoreSessionTypeExchange RestoreSessionType = "EXCHANGE"
	// Veeam Explorer for Microsoft OneDrive for Business (VBO: Veod).
	RestoreSessionTypeOnedrive RestoreSessionType = "ONEDRIVE"
	// Veeam Explorer for Microsoft SharePoint (VBO: Vesp).
	RestoreSessionTypeSharepoint RestoreSessionType = "SHAREPOINT"
	// Veeam Explorer for Microsoft Teams (VBO: Vet).
	RestoreSessionTypeTeams RestoreSessionType = "TEAMS"
	// A value this gateway version does not know.
	RestoreSessionTypeUnknown RestoreSessionType = "UNKNOWN"
)

// AllRestoreSessionType lists every value, in schema order.
var AllRestoreSessionType = []RestoreSessionType{
	RestoreSessionTypeExchange,
	RestoreSessionTypeOnedrive,
	RestoreSessionTypeSharepoint,
	RestoreSessionTypeTeams,
	RestoreSessionTypeUnknown,
}

// IsValid reports whether e is one of the schema's values.
func (e RestoreSessionType) IsValid() bool {
	switch e {
	case RestoreSessionTypeExchange, RestoreSessionTypeOnedrive, RestoreSessionTypeSharepoint, RestoreSessionTypeTeams, RestoreSessionTypeUnknown:
		return true
	}
	return false
}

func (e RestoreSessionType) String() string { return string(e) }

// UnmarshalGQL reads a GraphQL input value.
func (e *RestoreSessionType) UnmarshalGQL(v any) error {
	var err error
	*e, err = unmarshalEnum(v, RestoreSessionType.IsValid, "RestoreSessionType")
	return err
}

// MarshalGQL writes the value without allocating.
func (e RestoreSessionType) MarshalGQL(w io.Writer) { writeEnum(w, string(e), e.IsValid()) }

// UnmarshalJSON reads a quoted name.
func (e *RestoreSessionType) UnmarshalJSON(b []byte) error {
	var err error
	*e, err = unmarshalEnumJSON(b, RestoreSessionType.IsValid, "RestoreSessionType")
	return err
}

// MarshalJSON writes a quoted name.
func (e RestoreSessionType) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(string(e))), nil
}

// Restore session states.
type RestoreSessionState string

const (
	// Running (VBO: Working).
	RestoreSessionStateWorking RestoreSessionState = "WORKING"
	// Ended (VBO: Stopped).
	RestoreSessionStateStopped RestoreSessionState = "STOPPED"
	// A value this gateway version does not know (e.g. Starting, Stopping on old servers).
	RestoreSessionStateUnknown RestoreSessionState = "UNKNOWN"
)

// AllRestoreSessionState lists every value, in schema order.
var AllRestoreSessionState = []RestoreSessionState{
	RestoreSessionStateWorking,
	RestoreSessionStateStopped,
	RestoreSessionStateUnknown,
}

// IsValid reports whether e is one of the schema's values.
func (e RestoreSessionState) IsValid() bool {
	switch e {
	case RestoreSessionStateWorking, RestoreSessionStateStopped, RestoreSessionStateUnknown:
		return true
	}
	return false
}

func (e RestoreSessionState) String() string { return string(e) }

// UnmarshalGQL reads a GraphQL input value.
func (e *RestoreSessionState) UnmarshalGQL(v any) error {
	var err error
	*e, err = unmarshalEnum(v, RestoreSessionState.IsValid, "RestoreSessionState")
	return err
}

// MarshalGQL writes the value without allocating.
func (e RestoreSessionState) MarshalGQL(w io.Writer) { writeEnum(w, string(e), e.IsValid()) }

// UnmarshalJSON reads a quoted name.
func (e *RestoreSessionState) UnmarshalJSON(b []byte) error {
	var err error
	*e, err = unmarshalEnumJSON(b, RestoreSessionState.IsValid, "RestoreSessionState")
	return err
}

// MarshalJSON writes a quoted name.
func (e RestoreSessionState) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(string(e))), nil
}

// Restore session outcomes.
type RestoreSessionResult string

const (
	// Everything succeeded.
	RestoreSessionResultSuccess RestoreSessionResult = "SUCCESS"
	// Finished with warnings.
	RestoreSessionResultWarning RestoreSessionResult = "WARNING"
	// Failed.
	RestoreSessionResultFailed RestoreSessionResult = "FAILED"
	// A value this gateway version does not know.
	RestoreSessionResultUnknown RestoreSessionResult = "UNKNOWN"
)

// AllRestoreSessionResult lists every value, in schema order.
var AllRestoreSessionResult = []RestoreSessionResult{
	RestoreSessionResultSuccess,
	RestoreSessionResultWarning,
	RestoreSessionResultFailed,
	RestoreSessionResultUnknown,
}

// IsValid reports whether e is one of the schema's values.
func (e RestoreSessionResult) IsValid() bool {
	switch e {
	case RestoreSessionResultSuccess, RestoreSessionResultWarning, RestoreSessionResultFailed, RestoreSessionResultUnknown:
		return true
	}
	return false
}

func (e RestoreSessionResult) String() string { return string(e) }

// UnmarshalGQL reads a GraphQL input value.
func (e *RestoreSessionResult) UnmarshalGQL(v any) error {
	var err error
	*e, err = unmarshalEnum(v, RestoreSessionResult.IsValid, "RestoreSessionResult")
	return err
}

// MarshalGQL writes the value without allocating.
func (e RestoreSessionResult) MarshalGQL(w io.Writer) { writeEnum(w, string(e), e.IsValid()) }

// UnmarshalJSON reads a quoted name.
func (e *RestoreSessionResult) UnmarshalJSON(b []byte) error {
	var err error
	*e, err = unmarshalEnumJSON(b, RestoreSessionResult.IsValid, "RestoreSessionResult")
	return err
}

// MarshalJSON writes a quoted name.
func (e RestoreSessionResult) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(string(e))), nil
}

// Restore event types.
type RestoreEventType string

const (
	// Session started/stopped marker (VBO: None).
	RestoreEventTypeNone RestoreEventType = "NONE"
	// Saved to a file (VBO: Save).
	RestoreEventTypeSave RestoreEventType = "SAVE"
	// Exported, e.g. to PST (VBO: Export).
	RestoreEventTypeExport RestoreEventType = "EXPORT"
	// Sent by mail (VBO: Send).
	RestoreEventTypeSend RestoreEventType = "SEND"
	// Restored to the original or another location (VBO: Restore).
	RestoreEventTypeRestore RestoreEventType = "RESTORE"
	// Opened for viewing (VBO: View).
	RestoreEventTypeView RestoreEventType = "VIEW"
	// A value this gateway version does not know.
	RestoreEventTypeUnknown RestoreEventType = "UNKNOWN"
)

// AllRestoreEventType lists every value, in schema order.
var AllRestoreEventType = []RestoreEventType{
	RestoreEventTypeNone,
	RestoreEventTypeSave,
	RestoreEventTypeExport,
	RestoreEventTypeSend,
	RestoreEventTypeRestore,
	RestoreEventTypeView,
	RestoreEventTypeUnknown,
}

// IsValid reports whether e is one of the schema's values.
func (e RestoreEventType) IsValid() bool {
	switch e {
	case RestoreEventTypeNone, RestoreEventTypeSave, RestoreEventTypeExport, RestoreEventTypeSend, RestoreEventTypeRestore, RestoreEventTypeView, RestoreEventTypeUnknown:
		return true
	}
	return false
}

func (e RestoreEventType) String() string { return string(e) }

// UnmarshalGQL reads a GraphQL input value.
func (e *RestoreEventType) UnmarshalGQL(v any) error {
	var err error
	*e, err = unmarshalEnum(v, RestoreEventType.IsValid, "RestoreEventType")
	return err
}

// MarshalGQL writes the value without allocating.
func (e RestoreEventType) MarshalGQL(w io.Writer) { writeEnum(w, string(e), e.IsValid()) }

// UnmarshalJSON reads a quoted name.
func (e *RestoreEventType) UnmarshalJSON(b []byte) error {
	var err error
	*e, err = unmarshalEnumJSON(b, RestoreEventType.IsValid, "RestoreEventType")
	return err
}

// MarshalJSON writes a quoted name.
func (e RestoreEventType) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(string(e))), nil }

// Restore event statuses.
type RestoreEventStatus string

const (
	// In progress.
	RestoreEventStatusRunning RestoreEventStatus = "RUNNING"
	// Succeeded.
	RestoreEventStatusSuccess RestoreEventStatus = "SUCCESS"
	// Succeeded with warnings.
	RestoreEventStatusWarning RestoreEventStatus = "WARNING"
	// Failed.
	RestoreEventStatusFailed RestoreEventStatus = "FAILED"
	// Cancelled by the operator.
	RestoreEventStatusCancelled RestoreEventStatus = "CANCELLED"
	// Skipped.
	RestoreEventStatusSkipped RestoreEventStatus = "SKIPPED"
	// A value this gateway version does not know.
	RestoreEventStatusUnknown RestoreEventStatus = "UNKNOWN"
)

// AllRestoreEventStatus lists every value, in schema order.
var AllRestoreEventStatus = []RestoreEventStatus{
	RestoreEventStatusRunning,
	RestoreEventStatusSuccess,
	RestoreEventStatusWarning,
	RestoreEventStatusFailed,
	RestoreEventStatusCancelled,
	RestoreEventStatusSkipped,
	RestoreEventStatusUnknown,
}

// IsValid reports whether e is one of the schema's values.
func (e RestoreEventStatus) IsValid() bool {
	switch e {
	case RestoreEventStatusRunning, RestoreEventStatusSuccess, RestoreEventStatusWarning, RestoreEventStatusFailed, RestoreEventStatusCancelled, RestoreEventStatusSkipped, RestoreEventStatusUnknown:
		return true
	}
	return false
}

func (e RestoreEventStatus) String() string { return string(e) }

// UnmarshalGQL reads a GraphQL input value.
func (e *RestoreEventStatus) UnmarshalGQL(v any) error {
	var err error
	*e, err = unmarshalEnum(v, RestoreEventStatus.IsValid, "RestoreEventStatus")
	return err
}

// MarshalGQL writes the value without allocating.
func (e RestoreEventStatus) MarshalGQL(w io.Writer) { writeEnum(w, string(e), e.IsValid()) }

// UnmarshalJSON reads a quoted name.
func (e *RestoreEventStatus) UnmarshalJSON(b []byte) error {
	var err error
	*e, err = unmarshalEnumJSON(b, RestoreEventStatus.IsValid, "RestoreEventStatus")
	return err
}

// MarshalJSON writes a quoted name.
func (e RestoreEventStatus) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(string(e))), nil
}
