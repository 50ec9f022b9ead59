package vbosim

// actionLog records the restore actions performed on explored sessions (phase 2).
type actionLog struct{}

func actionRoutes() []restoreRoute { return nil }
