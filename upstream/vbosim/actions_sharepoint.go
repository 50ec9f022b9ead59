package vbosim

import (
	"fmt"
	"net/http"
	"strings"
)

// This file serves the SharePoint actions of an explored Vesp session (issue 25): save (ZIP,
// streamed) and send of documents, folders and libraries; restore to the original location
// and restoreTo another site of the organisation for documents, folders, list items,
// libraries, lists and whole sites. The documents define no copyTo for SharePoint.

// spActionIn is the union of the SharePoint action bodies: RESTSharePointSaveDocumentsOptions,
// RESTSaveSharePointFoldersOptions, RESTSharePointSend{Documents,Folders}AsMsgOptions,
// RESTSendAsMsgOptionsV6, RESTRestore[To]{Documents,Folders,Items,List,Site}Config.
type spActionIn struct {
	credentialsIn
	Documents                 []itemRef `json:"documents"`
	Folders                   []itemRef `json:"folders"`
	Items                     []itemRef `json:"items"`
	From                      string    `json:"from"`
	To                        string    `json:"to"`
	Subject                   string    `json:"subject"`
	List                      string    `json:"list"`
	SiteURL                   string    `json:"siteURL"`
	DocumentLastVersionAction string    `json:"documentLastVersionAction"`
}

// v6 answers of the SharePoint restores.
type (
	// listRestoreStats is RESTListRestoreStatistics (libraries and lists).
	listRestoreStats struct {
		RestoredLists    int64 `json:"restoredListsCount"`
		FailedLists      int64 `json:"failedListsCount"`
		Total            int64 `json:"totalItemsCount"`
		Restored         int64 `json:"restoredItemsCount"`
		Failed           int64 `json:"failedItemsCount"`
		SkippedByError   int64 `json:"skippedItemsByErrorCount"`
		SkippedNoChanges int64 `json:"skippedItemsByNoChangesCount"`
		RestoreIssues    []any `json:"restoreIssues"`
	}
	// webRestoreStats is RESTWebRestoreStatistics (sites).
	webRestoreStats struct {
		RestoredLists int64 `json:"restoredListsCount"`
		FailedLists   int64 `json:"failedListsCount"`
		RestoredWebs  int64 `json:"restoredWebsCount"`
		FailedWebs    int64 `json:"failedWebsCount"`
		RestoreIssues []any `json:"restoreIssues"`
	}
)

func sharePointActionRoutes() []restoreRoute {
	post := http.MethodPost
	site := pSP + "/{siteId}"
	var out []restoreRoute
	add := func(tmpl, level string, kind NodeKind, actions ...string) {
		for _, a := range actions {
			seg := map[string]string{ActionSave: "save", ActionSend: "send", ActionRestore: "restore", ActionRestoreTo: "restoreTo"}[a]
			out = append(out, restoreRoute{method: post, tmpl: tmpl + "/" + seg, h: spAction(a, level, kind)})
		}
	}
	all := []string{ActionSave, ActionSend, ActionRestore, ActionRestoreTo}
	restores := []string{ActionRestore, ActionRestoreTo}
	add(site+"/Documents", LevelItems, KindSiteDoc, all...)
	add(site+"/Folders", LevelItems, KindSiteFolder, all...)
	add(site+"/Items", LevelItems, KindSiteItem, restores...)
	add(site+"/Libraries/{libraryId}", LevelLibrary, KindLibrary, all...)
	add(site+"/Lists/{listId}", LevelList, KindList, restores...)
	add(site, LevelSite, KindSite, restores...)
	return out
}

// spAction serves one SharePoint action. LevelItems takes the nodes of kind from the body
// (documents, folders or items); the other levels act on the library, list or site the path
// names.
func spAction(action, level string, kind NodeKind) func(*rcall) {
	return func(c *rcall) {
		i, t, site, ok := c.browseIn(2)
		if !ok {
			return
		}
		var picked []*Node
		switch level {
		case LevelSite:
			picked = []*Node{site}
		case LevelLibrary, LevelList:
			n := c.node(t, 2, kind, site, level, "")
			if n == nil {
				return
			}
			picked = []*Node{n}
		}
		var in spActionIn
		opts, ok := c.decodeOpts(&in, level != LevelLibrary || action != ActionSave) // only a library save has no body
		if !ok {
			return
		}
		if level == LevelItems {
			refs, what := in.Documents, "Document"
			switch kind {
			case KindSiteFolder:
				refs, what = in.Folders, "Folder"
			case KindSiteItem:
				refs, what = in.Items, "Item"
			}
			if picked, ok = c.resolveItems(t, refs, kind, site, what); !ok {
				return
			}
		}
		a := c.newAction(action, "SharePoint", level, picked, opts)
		switch action {
		case ActionSend:
			if !c.sendTo(&a, in.To, in.From, in.Subject) {
				return
			}
		case ActionRestoreTo:
			if in.SiteURL == "" {
				c.s.badRequest(c.w, "The target site URL (siteURL) is required.")
				return
			}
			var dst *Node
			for _, st := range t.Sites {
				if strings.EqualFold(strings.TrimSuffix(in.SiteURL, "/"), st.URL) {
					dst = st
				}
			}
			if dst == nil {
				c.s.badRequest(c.w, fmt.Sprintf("Site '%s' was not found in the organization.", in.SiteURL))
				return
			}
			a.Target, a.Conflict = dst.URL, in.DocumentLastVersionAction
			if list := spTargetList(in.List, picked[0]); list != "" {
				a.Target += "/" + list
			}
		case ActionRestore:
			a.Target, a.Conflict = site.URL, in.DocumentLastVersionAction
			if level == LevelLibrary || level == LevelList {
				a.Target = picked[0].URL
			}
		}
		if !c.restoreCredentials(&a, in.credentialsIn) {
			return
		}
		leaves := leavesOf(picked)
		if action == ActionSave {
			c.stream(i, a, picked[0].ID, leaves, zipName(picked, site), magicZIP)
			return
		}
		n := int64(len(leaves))
		var v6 any
		switch level {
		case LevelSite:
			v6 = webRestoreStats{RestoredLists: int64(len(site.Children)), RestoredWebs: 1, RestoreIssues: []any{}}
		case LevelLibrary, LevelList:
			v6 = listRestoreStats{RestoredLists: 1, Total: n, Restored: n, RestoreIssues: []any{}}
		default:
			v6 = itemRestoreStats{Total: n, Restored: int32(n), RestoreIssues: []any{}}
		}
		c.reply(i, a, leaves, v6)
	}
}

// spTargetList is the list a restoreTo writes into: the body's list, else the library or
// list the first picked node is in (itself for a library or list; none for a whole site).
func spTargetList(list string, n *Node) string {
	if list != "" || n.Kind == KindSite {
		return list
	}
	for x := n; x != nil; x = x.Parent {
		if x.Kind == KindLibrary || x.Kind == KindList {
			return x.Name
		}
	}
	return ""
}
