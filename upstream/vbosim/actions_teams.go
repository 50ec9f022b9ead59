package vbosim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// This file serves the Teams actions of an explored Vet session (issue 25): restore of a team
// (RESTRestoreTeamOptions: restoreMembers and restoreSettings change the live team) and of a
// channel; posts save/send/export/restore; files save/send/restore, per team (both versions)
// and per file (v6 teams/{id}/files/{fileId}, v8 under channels/{channelId}/files/{fileId}).

// teamsActionIn is the union of the Teams action bodies: RESTRestoreTeamOptions,
// RESTRestoreChannelOptions, RESTSavePostsOptions, RESTSendPostsOptions, RESTExportOptions,
// RESTRestorePostsOptions, RESTFilesSaveOptions, RESTFilesSendOptions,
// RESTRestoreFilesOptions, RESTFileSaveOptions, RESTSendAsMsgOptions, RESTRestoreFileOptions.
type teamsActionIn struct {
	credentialsIn
	ChannelID string `json:"channelId"`
	Posts     []struct {
		PostID int64 `json:"postId"`
	} `json:"posts"`
	Files               []itemRef `json:"files"`
	From                *string   `json:"from"` // sends: the sender; posts export/restore: a date-time
	To                  *string   `json:"to"`
	Subject             string    `json:"subject"`
	RestoreChangedItems *bool     `json:"restoreChangedItems"`
	RestoreMissingItems *bool     `json:"restoreMissingItems"`
	RestoreMembers      *bool     `json:"restoreMembers"`
	RestoreSettings     *bool     `json:"restoreSettings"`
	FileVersion         *string   `json:"fileVersion"`
	AsZip               *bool     `json:"asZip"`
}

// teamsRestoreStats is v6 RESTRestoreStatistics (Teams).
type teamsRestoreStats struct {
	Total         int64 `json:"totalItemsCount"`
	Restored      int64 `json:"restoredItemsCount"`
	Failed        int64 `json:"failedItemsCount"`
	Skipped       int64 `json:"skippedItemsCount"`
	RestoreIssues []any `json:"restoreIssues"`
}

// Teams action scopes (the route's collection).
const (
	tmTeam    = "team"
	tmChannel = "channel"
	tmPosts   = "posts"
	tmFiles   = "files"
	tmFile    = "file"
)

func teamsActionRoutes() []restoreRoute {
	post := http.MethodPost
	team := pTm + "/{teamId}"
	r := func(tmpl, vers, action, scope string) restoreRoute {
		return restoreRoute{method: post, tmpl: tmpl, vers: vers, h: teamsAction(action, scope)}
	}
	return []restoreRoute{
		r(team+"/restore", "", ActionRestore, tmTeam),
		r(team+"/channels/{channelId}/restore", "", ActionRestore, tmChannel),
		r(team+"/posts/save", "", ActionSave, tmPosts),
		r(team+"/posts/send", "", ActionSend, tmPosts),
		r(team+"/posts/export", "", ActionExport, tmPosts),
		r(team+"/posts/restore", "", ActionRestore, tmPosts),
		r(team+"/files/save", "", ActionSave, tmFiles),
		r(team+"/files/send", "", ActionSend, tmFiles),
		r(team+"/files/restore", "", ActionRestore, tmFiles),
		r(team+"/files/{fileId}/save", "v6,v7", ActionSave, tmFile),
		r(team+"/files/{fileId}/send", "v6,v7", ActionSend, tmFile),
		r(team+"/files/{fileId}/restore", "v6,v7", ActionRestore, tmFile),
		r(team+"/channels/{channelId}/files/{fileId}/save", "v8", ActionSave, tmFile),
		r(team+"/channels/{channelId}/files/{fileId}/send", "v8", ActionSend, tmFile),
		r(team+"/channels/{channelId}/files/{fileId}/restore", "v8", ActionRestore, tmFile),
	}
}

// requireBools answers 400 naming the first of the body's required switches that is missing.
func (c *rcall) requireBools(fields ...any) bool {
	for k := 0; k+1 < len(fields); k += 2 {
		if fields[k+1].(*bool) == nil {
			c.s.badRequest(c.w, fmt.Sprintf("The %s value is required.", fields[k]))
			return false
		}
	}
	return true
}

func teamsAction(action, scope string) func(*rcall) {
	return func(c *rcall) {
		i, t, tm, ok := c.browseIn(3)
		if !ok {
			return
		}
		var ch *Node
		var picked []*Node
		level := LevelItems
		switch scope {
		case tmTeam:
			picked, level = []*Node{tm}, LevelTeam
		case tmChannel:
			if ch = c.node(t, 2, KindChannel, tm, "Channel", "channelId"); ch == nil {
				return
			}
			picked, level = []*Node{ch}, LevelChannel
		case tmFile:
			var f *Node
			if f, ch, ok = c.teamFileNode(t, tm); !ok {
				return
			}
			picked = []*Node{f}
		}
		var in teamsActionIn
		opts, ok := c.decodeOpts(&in, true) // every Teams action has a required body
		if !ok {
			return
		}
		if scope == tmPosts || scope == tmFiles {
			if picked, ch, ok = c.teamsSelection(t, tm, scope, action, &in); !ok {
				return
			}
		}
		a := c.newAction(action, "Teams", level, picked, opts)
		switch action {
		case ActionSend:
			if !c.sendTo(&a, deref(in.To), deref(in.From), in.Subject) {
				return
			}
		case ActionRestore:
			switch scope {
			case tmTeam:
				if !c.requireBools("restoreChangedItems", in.RestoreChangedItems, "restoreMissingItems", in.RestoreMissingItems,
					"restoreMembers", in.RestoreMembers, "restoreSettings", in.RestoreSettings) {
					return
				}
				a.RestoreMembers, a.RestoreSettings = *in.RestoreMembers, *in.RestoreSettings
			case tmChannel:
				if !c.requireBools("restoreChangedItems", in.RestoreChangedItems, "restoreMissingItems", in.RestoreMissingItems) {
					return
				}
				if c.v8() && in.RestoreMembers != nil {
					a.RestoreMembers = *in.RestoreMembers
				}
			case tmFiles, tmFile:
				if in.FileVersion == nil || (*in.FileVersion != "All" && *in.FileVersion != "Last") {
					c.s.badRequest(c.w, "The fileVersion value is required: All or Last.")
					return
				}
				if !c.requireBools("restoreChangedItems", in.RestoreChangedItems, "restoreMissingItems", in.RestoreMissingItems) {
					return
				}
			}
			a.Target = tm.Email
			if ch != nil {
				a.Target += "\\" + ch.Name
			}
		}
		if !c.restoreCredentials(&a, in.credentialsIn) {
			return
		}
		leaves := leavesOf(picked)
		switch action {
		case ActionSave, ActionExport:
			name, ext, magic := tm.Name, ".zip", magicZIP
			if ch != nil {
				name = ch.Name
			}
			switch {
			case action == ActionExport:
				ext, magic = ".html", magicHTML
			case len(leaves) == 1 && scope == tmPosts:
				name, ext, magic = leaves[0].Name, ".msg", magicMSG
			case scope == tmFile && (in.AsZip == nil || !*in.AsZip):
				name, ext, magic = leaves[0].Name, "", ""
			case len(leaves) == 1:
				name = leaves[0].Name
			}
			c.stream(i, a, picked[0].ID, leaves, name+ext, magic)
		default:
			n := int64(len(leaves))
			c.reply(i, a, leaves, teamsRestoreStats{Total: n, Restored: n, RestoreIssues: []any{}})
		}
	}
}

// teamsSelection resolves a posts or files body: the listed posts/files (of the channel in
// channelId when given), else all of that channel's (posts export and restore: created
// within from..to). posts/restore requires channelId. ok=false has answered.
func (c *rcall) teamsSelection(t *OrgTree, tm *Node, scope, action string, in *teamsActionIn) (picked []*Node, ch *Node, ok bool) {
	if in.ChannelID != "" {
		if ch = t.Node(in.ChannelID); ch == nil || ch.Kind != KindChannel || ch.Container != tm {
			c.s.notFound(c.w, fmt.Sprintf("Channel with ID '%s' was not found.", in.ChannelID))
			return nil, nil, false
		}
	}
	if scope == tmPosts && action == ActionRestore && ch == nil {
		c.s.badRequest(c.w, "The channelId value is required.")
		return nil, nil, false
	}
	kind, what := KindPost, "Post"
	var ids []string
	if scope == tmPosts {
		for _, p := range in.Posts {
			ids = append(ids, fmt.Sprint(p.PostID))
		}
	} else {
		kind, what = KindTeamFile, "File"
		if !c.requireItemFields(in.Files, kind) {
			return nil, nil, false
		}
		for _, f := range in.Files {
			ids = append(ids, f.ID)
		}
	}
	if action == ActionRestore && scope == tmPosts {
		ids = nil // RESTRestorePostsOptions names a channel and a time range, no posts
	}
	for _, id := range ids {
		n := t.Node(id)
		if n == nil || n.Kind != kind || n.Container != tm || ch != nil && n.Channel != ch {
			c.s.notFound(c.w, fmt.Sprintf("%s with ID '%s' was not found.", what, id))
			return nil, nil, false
		}
		picked = append(picked, n)
	}
	if len(picked) > 0 {
		return picked, ch, true
	}
	if ch == nil {
		c.s.badRequest(c.w, fmt.Sprintf("Specify the %ss or a channel (channelId).", strings.ToLower(what)))
		return nil, nil, false
	}
	var from, to time.Time
	if scope == tmPosts && (action == ActionExport || action == ActionRestore) {
		var bad string
		if from, bad = parseOptTime(in.From); bad == "" {
			to, bad = parseOptTime(in.To)
		}
		if bad != "" {
			c.s.badRequest(c.w, fmt.Sprintf("The value '%s' is not a valid date and time.", bad))
			return nil, nil, false
		}
	}
	for _, n := range ch.Filter(kind) {
		if !from.IsZero() && n.Created.Before(from) || !to.IsZero() && n.Created.After(to) {
			continue
		}
		picked = append(picked, n)
	}
	if len(picked) == 0 {
		c.s.badRequest(c.w, fmt.Sprintf("No %ss were found in the channel '%s' for the specified time range.", strings.ToLower(what), ch.Name))
		return nil, nil, false
	}
	return picked, ch, true
}

func parseOptTime(s *string) (time.Time, string) {
	if s == nil || *s == "" {
		return time.Time{}, ""
	}
	v, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return time.Time{}, *s
	}
	return v, ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
